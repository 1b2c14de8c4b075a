//! A report's sum of sales: [`Pricing`] (the currency a report converts into, and how)
//! and [`Tally`] (the native sums per currency, and the converted sum, exact and in f64).

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::currency::Currency;

use super::model::Order;
use super::rates::{Arithmetic, convert, convert_at, pair_rate_in, rate_per_eur};

/// The rate `from` → `to` as an f64 quotient of the f64 rates per EUR.
fn rate_f64(from: Currency, to: Currency) -> f64 {
    if from == to {
        return 1.0;
    }
    let per_eur = |c| rate_per_eur(c).to_f64().unwrap_or(f64::NAN);
    per_eur(to) / per_eur(from)
}

/// What a report converts into, and how: the target currency, the arithmetic, and (for
/// [`Arithmetic::Quoted`]) each native currency's 8-decimal rate into the target.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pricing {
    pub target: Currency,
    pub arithmetic: Arithmetic,
    /// Rate from each currency (slots of `Currency::ALL`) into `target`.
    rates: [Decimal; 13],
}

impl Pricing {
    /// The simulator's own rates ([`pair_rate_in`]) into `target`.
    pub(crate) fn new(target: Currency, arithmetic: Arithmetic) -> Pricing {
        Pricing {
            target,
            arithmetic,
            rates: Currency::ALL.map(|c| pair_rate_in(c, target, arithmetic)),
        }
    }

    /// Quoted arithmetic with the given 8-decimal rates into `target` (others: the
    /// simulator's), e.g. the rates the API text's samples show.
    #[cfg(test)]
    pub(crate) fn with_rates(target: Currency, rates: &[(Currency, Decimal)]) -> Pricing {
        let mut pricing = Pricing::new(target, Arithmetic::Quoted);
        for (c, r) in rates {
            pricing.rates[slot(*c)] = *r;
        }
        pricing
    }

    /// One sale converted: at the pair's rate, rounded to 8 decimals (the same currency:
    /// the amount itself).
    fn convert(&self, amount: Decimal, from: Currency) -> Decimal {
        if from == self.target {
            return amount;
        }
        convert_at(amount, self.rates[slot(from)])
    }
}

/// Sales and their native sums, one per currency, and (quoted arithmetic) the sum of
/// each sale converted to the pricing's target.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tally {
    pricing: Pricing,
    native: [Decimal; 13],
    /// The same sums in f64, added sale by sale.
    native_f64: [f64; 13],
    /// Sales per currency, in the same slots as `native`.
    sales_in: [u64; 13],
    /// Quoted arithmetic: the sales converted one by one (8 decimals each), summed.
    converted: Decimal,
    /// The same sum in f64, added sale by sale.
    converted_f64: f64,
    pub sales: u64,
}

fn slot(currency: Currency) -> usize {
    Currency::ALL
        .iter()
        .position(|c| *c == currency)
        .unwrap_or(0)
}

impl Tally {
    /// An empty tally converting as `pricing` says.
    pub(crate) fn new(pricing: &Pricing) -> Tally {
        Tally {
            pricing: pricing.clone(),
            native: [Decimal::ZERO; 13],
            native_f64: [0.0; 13],
            sales_in: [0; 13],
            converted: Decimal::ZERO,
            converted_f64: 0.0,
            sales: 0,
        }
    }

    /// Counts `order` if it is a sale.
    pub(crate) fn add(&mut self, order: &Order) {
        if order.is_sale() {
            let at = slot(order.currency);
            self.native[at] = self.native[at].saturating_add(order.amount);
            self.native_f64[at] += order.amount.to_f64().unwrap_or(0.0);
            self.sales_in[at] += 1;
            self.sales += 1;
            if self.pricing.arithmetic.is_quoted() {
                let one = self.pricing.convert(order.amount, order.currency);
                self.converted = self.converted.saturating_add(one);
                self.converted_f64 += one.to_f64().unwrap_or(0.0);
            }
        }
    }

    /// Adds another tally's sales to this one.
    pub(super) fn absorb(&mut self, other: &Tally) {
        for at in 0..self.native.len() {
            self.native[at] = self.native[at].saturating_add(other.native[at]);
            self.native_f64[at] += other.native_f64[at];
            self.sales_in[at] += other.sales_in[at];
        }
        self.converted = self.converted.saturating_add(other.converted);
        self.converted_f64 += other.converted_f64;
        self.sales += other.sales;
    }

    /// `(currency, native sum, the same in f64, sales)` of each currency with sales, by
    /// currency code.
    pub(crate) fn by_currency(&self) -> Vec<(Currency, Decimal, f64, u64)> {
        let mut out: Vec<(Currency, Decimal, f64, u64)> = Currency::ALL
            .iter()
            .map(|c| {
                let at = slot(*c);
                (*c, self.native[at], self.native_f64[at], self.sales_in[at])
            })
            .filter(|(_, _, _, sales)| *sales > 0)
            .collect();
        out.sort_by_key(|(c, _, _, _)| c.code());
        out
    }

    /// Revenue in the pricing's target in binary floating point. Quoted: the f64 sum of
    /// each sale's 8-decimal amount. Exact: each currency's f64 sum times the f64 rate,
    /// added up in f64. Off from [`Tally::revenue`] in the last digits, as a float sum is.
    pub(crate) fn revenue_f64(&self) -> f64 {
        if self.pricing.arithmetic.is_quoted() {
            return self.converted_f64;
        }
        let target = self.pricing.target;
        Currency::ALL
            .iter()
            .zip(self.native_f64.iter())
            .filter(|(_, sum)| **sum != 0.0)
            .fold(0.0, |acc, (c, sum)| acc + sum * rate_f64(*c, target))
    }

    /// Revenue in the pricing's target.
    pub(crate) fn revenue(&self) -> Decimal {
        if self.pricing.arithmetic.is_quoted() {
            return self.converted;
        }
        let target = self.pricing.target;
        Currency::ALL
            .iter()
            .zip(self.native.iter())
            .filter(|(_, sum)| !sum.is_zero())
            .fold(Decimal::ZERO, |acc, (c, sum)| {
                acc.saturating_add(convert(*sum, *c, target))
            })
    }
}
