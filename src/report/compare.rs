//! The field-by-field comparison of one report: the API's rows against the warehouse's,
//! revenue within the residue of the API's float sum, a month's plan entries as a
//! multiset, and each difference's verdict.

use std::collections::BTreeMap;

use crate::fx::residue::revenue_slack;
use crate::money::Amount;

/// The outcome of one field comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Match,
    Differs,
    /// Differs, but the API has sales after the last sync that this report covers.
    NewerThanSync,
    /// Not compared: the API version in use cannot back it (`api` says why).
    Skipped,
    /// Differs, but the API's exchange rates into this currency moved since the last sync.
    RatesMoved,
}

/// One compared field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Check {
    pub report: &'static str,
    pub currency: String,
    /// Which row: a period, a plan id, a gateway code.
    pub key: String,
    pub field: &'static str,
    pub api: String,
    pub warehouse: String,
    pub verdict: Verdict,
}

/// Whether the API's `revenue` (a figure summed from `sales` sales) and the warehouse's
/// agree: equal, or within the residue of a float sum when the API's text can be one.
pub(super) fn revenue_close(api: &str, ours: &str, sales: &str) -> bool {
    let (Ok(a), Ok(b)) = (Amount::parse(api), Amount::parse(ours)) else {
        return api == ours;
    };
    let sales: i64 = sales.parse().unwrap_or(0);
    a.scaled().abs_diff(b.scaled()) <= revenue_slack(a, sales)
}

/// `revenue_close` for a field of two rows, `formatted_close` for `formatted` (other
/// fields: equal).
fn field_close(field: &str, api: &Fields, api_value: &str, ours_value: &str) -> bool {
    match field {
        "revenue" => {
            let sales = api.get("sales").map(String::as_str).unwrap_or("0");
            revenue_close(api_value, ours_value, sales)
        }
        "formatted" => {
            let currency = api.get("currency").map(String::as_str).unwrap_or("");
            formatted_close(currency, api_value, ours_value)
        }
        _ => api_value == ours_value,
    }
}

/// Whether two `formatted` texts agree: equal, or, in the two currencies whose digit
/// grouping the documents leave open, equal once the group separators are dropped. INR's
/// only example, `₹1,234.56`, fits Indian grouping too (`₹12,34,567.89`), and BTC's,
/// `₿0.00012345`, shows no group at all. The warehouse groups by threes; an API that
/// groups otherwise still verifies. Every other currency's grouping is in the examples.
pub(super) fn formatted_close(currency: &str, api: &str, ours: &str) -> bool {
    api == ours
        || ((currency.eq_ignore_ascii_case("INR") || currency.eq_ignore_ascii_case("BTC"))
            && api.replace(',', "") == ours.replace(',', ""))
}

/// Rows of one report, keyed, as field → text.
pub(super) type Rows = BTreeMap<String, Fields>;

/// The fields of one row.
pub(super) type Fields = BTreeMap<&'static str, String>;

/// Whether two rows agree on every field (revenue within the tolerance).
fn same_fields(a: &Fields, b: &Fields) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|(field, av)| b.get(field).is_some_and(|bv| field_close(field, a, av, bv)))
}

/// Pairs the entries of the API and of the warehouse that share a key (a plan and a
/// month) as multisets, and gives each pair one key of its own, so [`Comparer`] sees
/// them side by side: equal entries are paired first, whatever their order; the rest
/// pair up in the order they came (their fields then show as differences) and the
/// surplus of either side is a row the other lacks. A key with a single entry on both
/// sides stays as it was (`plan 7 2024-05`); otherwise the n-th pair is
/// `plan 7 2024-05 #n`.
pub(super) fn align_entries(
    api: Vec<(String, Fields)>,
    ours: Vec<(String, Fields)>,
) -> (Rows, Rows) {
    let mut groups: BTreeMap<String, (Vec<Fields>, Vec<Fields>)> = BTreeMap::new();
    for (key, fields) in api {
        groups.entry(key).or_default().0.push(fields);
    }
    for (key, fields) in ours {
        groups.entry(key).or_default().1.push(fields);
    }
    let (mut api_rows, mut our_rows) = (Rows::new(), Rows::new());
    for (key, (a, mut o)) in groups {
        let single = a.len() <= 1 && o.len() <= 1;
        let mut pairs: Vec<(Option<Fields>, Option<Fields>)> = Vec::new();
        let mut unmatched_api = Vec::new();
        for entry in a {
            match o
                .iter()
                .position(|candidate| same_fields(&entry, candidate))
            {
                Some(at) => pairs.push((Some(entry), Some(o.remove(at)))),
                None => unmatched_api.push(entry),
            }
        }
        let mut rest = o.into_iter();
        for entry in unmatched_api {
            pairs.push((Some(entry), rest.next()));
        }
        pairs.extend(rest.map(|entry| (None, Some(entry))));
        for (n, (a, o)) in pairs.into_iter().enumerate() {
            let label = if single {
                key.clone()
            } else {
                format!("{key} #{}", n + 1)
            };
            if let Some(a) = a {
                api_rows.insert(label.clone(), a);
            }
            if let Some(o) = o {
                our_rows.insert(label, o);
            }
        }
    }
    (api_rows, our_rows)
}

pub(super) struct Comparer {
    pub(super) checks: Vec<Check>,
    /// The API has sales after the last sync.
    pub(super) newer_sales: bool,
}

impl Comparer {
    pub(super) fn compare(
        &mut self,
        report: &'static str,
        currency: &str,
        api: &Rows,
        ours: &Rows,
        covers_after_sync: &dyn Fn(&str) -> bool,
    ) {
        let keys: std::collections::BTreeSet<&String> = api.keys().chain(ours.keys()).collect();
        for key in keys {
            let empty = BTreeMap::new();
            let a = api.get(key).unwrap_or(&empty);
            let o = ours.get(key).unwrap_or(&empty);
            let covers = covers_after_sync(key);
            if a.is_empty() || o.is_empty() {
                let verdict = self.verdict(false, covers);
                self.checks.push(Check {
                    report,
                    currency: currency.to_string(),
                    key: key.clone(),
                    field: "row",
                    api: if a.is_empty() {
                        "absent".into()
                    } else {
                        "present".into()
                    },
                    warehouse: if o.is_empty() {
                        "absent".into()
                    } else {
                        "present".into()
                    },
                    verdict,
                });
                continue;
            }
            for (field, api_value) in a {
                let ours_value = o.get(field).cloned().unwrap_or_default();
                let equal = field_close(field, a, api_value, &ours_value);
                let verdict = self.verdict(equal, covers);
                self.checks.push(Check {
                    report,
                    currency: currency.to_string(),
                    key: key.clone(),
                    field,
                    api: api_value.clone(),
                    warehouse: ours_value,
                    verdict,
                });
            }
        }
    }

    fn verdict(&self, equal: bool, covers_after_sync: bool) -> Verdict {
        if equal {
            Verdict::Match
        } else if covers_after_sync && self.newer_sales {
            Verdict::NewerThanSync
        } else {
            Verdict::Differs
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatted_ignores_grouping_only_where_the_documents_leave_it_open() {
        assert!(formatted_close("INR", "₹12,34,567.89", "₹1,234,567.89"));
        assert!(formatted_close("BTC", "₿1234.12345678", "₿1,234.12345678"));
        // The amount itself, and its decimal point, still count.
        assert!(!formatted_close("INR", "₹12,34,567.80", "₹1,234,567.89"));
        assert!(!formatted_close("INR", "₹1234,56", "₹1,234.56"));
        // Every other currency's grouping is shown by an example: exact.
        assert!(!formatted_close("USD", "$1234.56", "$1,234.56"));
        assert!(!formatted_close("EUR", "1234,56€", "1 234,56€"));
        assert!(formatted_close("EUR", "1 234,56€", "1 234,56€"));
    }

    fn entry(key: &str, revenue: &str, sales: &str) -> (String, Fields) {
        (
            key.to_string(),
            Fields::from([
                ("revenue", revenue.to_string()),
                ("currency", "EUR".to_string()),
                ("sales", sales.to_string()),
            ]),
        )
    }

    fn compared(api: &Rows, ours: &Rows) -> Vec<(String, &'static str, Verdict)> {
        let mut cmp = Comparer {
            checks: Vec::new(),
            newer_sales: false,
        };
        cmp.compare("plans/report", "EUR", api, ours, &|_| false);
        cmp.checks
            .into_iter()
            .filter(|c| c.verdict != Verdict::Match)
            .map(|c| (c.key, c.field, c.verdict))
            .collect()
    }

    #[test]
    fn a_months_entries_compare_as_a_multiset() {
        // Two entries in 2024-06 (RUB 2000 in 2 sales, EUR 5 in 1), in either order.
        let api = vec![
            entry("plan 38 2024-06", "2000", "2"),
            entry("plan 38 2024-06", "5", "1"),
            entry("plan 38 2024-05", "1000", "1"),
        ];
        let ours = vec![
            entry("plan 38 2024-06", "5.000000000000001", "1"),
            entry("plan 38 2024-06", "2000", "2"),
            entry("plan 38 2024-05", "1000", "1"),
        ];
        let (a, o) = align_entries(api.clone(), ours);
        assert_eq!(a.len(), 3, "{a:?}");
        assert!(
            a.contains_key("plan 38 2024-05"),
            "a single entry keeps its key: {a:?}"
        );
        assert_eq!(compared(&a, &o), vec![]);

        // One entry's amount differs: that pair differs, the other still matches.
        let ours = vec![
            entry("plan 38 2024-06", "2000", "2"),
            entry("plan 38 2024-06", "6", "1"),
            entry("plan 38 2024-05", "1000", "1"),
        ];
        let (a, o) = align_entries(api.clone(), ours);
        assert_eq!(
            compared(&a, &o),
            vec![(
                "plan 38 2024-06 #2".to_string(),
                "revenue",
                Verdict::Differs
            )]
        );

        // A repeated month no longer hides an entry: one missing is a missing row.
        let ours = vec![
            entry("plan 38 2024-06", "5", "1"),
            entry("plan 38 2024-05", "1000", "1"),
        ];
        let (a, o) = align_entries(api.clone(), ours);
        assert_eq!(
            compared(&a, &o),
            vec![("plan 38 2024-06 #2".to_string(), "row", Verdict::Differs)]
        );
        let (a, o) = align_entries(api[..1].to_vec(), api.clone());
        assert_eq!(
            compared(&a, &o),
            vec![
                ("plan 38 2024-05".to_string(), "row", Verdict::Differs),
                ("plan 38 2024-06 #2".to_string(), "row", Verdict::Differs)
            ]
        );
    }

    #[test]
    fn revenue_tolerance_is_only_the_float_residue() {
        // The API text's float sum: its residue is allowed.
        assert!(revenue_close("398.60636332000007", "398.60636332", "3"));
        // An exact 8-decimal figure: no tolerance at all (1e-9 relative allowed this).
        assert!(!revenue_close("1000000", "1000000.0000009", "3"));
        assert!(!revenue_close("1000000.00000001", "1000000.00000002", "3"));
        assert!(revenue_close("1000000.00000001", "1000000.00000001", "3"));
        // A float residue bounded by the sales summed: not a cent.
        assert!(!revenue_close("398.60636332000007", "398.60636333", "3"));
        assert!(revenue_close("0", "0", "0"));
        assert!(!revenue_close("0", "0.000001", "0"));
    }
}
