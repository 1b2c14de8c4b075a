//! Request URLs: `{base}/v1/bot{ID}/{KEY}/{method}` (or the legacy `{base}/bot{ID}/{KEY}/{name}`).
//!
//! The key lives in the URL path, so a full URL is only ever built to hand to the HTTP
//! client; everything that is shown to a person uses [`Endpoint::describe`], which prints
//! `***` in its place.

use std::fmt;
use std::net::IpAddr;

use crate::bot_id::BotId;
use crate::secret::{ApiKey, REDACTED};

use super::error::ApiError;

/// Which generation of the API to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiVersion {
    #[default]
    V1,
    /// The older, unversioned API (`tgmembership-api-legacy.txt`): reports and members only.
    Legacy,
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ApiVersion::V1 => "v1",
            ApiVersion::Legacy => "legacy",
        })
    }
}

impl std::str::FromStr for ApiVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "v1" => Ok(ApiVersion::V1),
            "legacy" => Ok(ApiVersion::Legacy),
            _ => Err(format!(
                "unknown api_version `{s}`: expected `v1` or `legacy`"
            )),
        }
    }
}

/// Every read the ETL makes. There is deliberately no variant for a mutating method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Orders,
    Order(String),
    Members,
    Plans,
    Projects,
    Coupons,
    PaymentMethods,
    /// `/payment_methods`: the spelling of the API text's sample `path`, tried once when
    /// `/paymentMethods` answers 404 (see `ApiClient::get`).
    PaymentMethodsSnake,
    UsersCount,
    Revenue,
    OrdersCount,
    PlansReport,
    PaymentMethodsReport,
    /// `/payment_methods/report`: its sample's `path`, tried once when
    /// `/paymentMethods/report` answers 404.
    PaymentMethodsReportSnake,
}

impl Method {
    /// The path after the key in the v1 API.
    fn v1_path(&self) -> String {
        match self {
            Method::Orders => "orders".into(),
            Method::Order(key) => format!("orders/{}", encode_segment(key)),
            Method::Members => "members".into(),
            Method::Plans => "plans".into(),
            Method::Projects => "projects".into(),
            Method::Coupons => "coupons".into(),
            Method::PaymentMethods => "paymentMethods".into(),
            Method::PaymentMethodsSnake => "payment_methods".into(),
            Method::UsersCount => "users/count".into(),
            Method::Revenue => "revenue".into(),
            Method::OrdersCount => "orders/count".into(),
            Method::PlansReport => "plans/report".into(),
            Method::PaymentMethodsReport => "paymentMethods/report".into(),
            Method::PaymentMethodsReportSnake => "payment_methods/report".into(),
        }
    }

    /// The legacy method name, where the legacy API has one.
    fn legacy_name(&self) -> Option<&'static str> {
        Some(match self {
            Method::Members => "getSubscribers",
            Method::Plans => "getPlans",
            Method::Revenue => "getRevenue",
            Method::OrdersCount => "countOrders",
            Method::UsersCount => "countUsers",
            Method::PaymentMethodsReport => "mostPopularPaymentMethods",
            Method::PlansReport => "plansPerformance",
            _ => return None,
        })
    }

    /// A short name for messages and metrics (`/orders`, `/orders/{order_key}`).
    pub fn label(&self) -> String {
        match self {
            Method::Order(_) => "/orders/{order_key}".into(),
            other => format!("/{}", other.v1_path()),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// Percent-encodes one path segment (an order key may hold any character).
fn encode_segment(s: &str) -> String {
    crate::secret::encode_path_segment(s)
}

/// Where one bot's API lives: base URL, bot id, key and API version.
#[derive(Clone)]
pub struct Endpoint {
    base: reqwest::Url,
    bot_id: BotId,
    key: ApiKey,
    version: ApiVersion,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("base", &self.base.as_str())
            .field("bot_id", &self.bot_id)
            .field("key", &self.key)
            .field("version", &self.version)
            .finish()
    }
}

impl Endpoint {
    /// Validates the base URL: `https`, or plain `http` only to a loopback host.
    pub fn new(
        base_url: &str,
        bot_id: BotId,
        key: ApiKey,
        version: ApiVersion,
    ) -> Result<Endpoint, ApiError> {
        let invalid = |reason: &str| ApiError::InvalidBaseUrl {
            url: base_url.to_string(),
            reason: reason.to_string(),
        };
        let base = reqwest::Url::parse(base_url).map_err(|e| invalid(&e.to_string()))?;
        let host = base.host_str().ok_or_else(|| invalid("it has no host"))?;
        match base.scheme() {
            "https" => {}
            "http" if is_loopback(host) => {}
            "http" => {
                return Err(invalid(
                    "plain http is only allowed to a loopback host (127.0.0.1, ::1, localhost); use https",
                ));
            }
            other => return Err(invalid(&format!("unsupported scheme `{other}`"))),
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(invalid("it must not carry a query or fragment"));
        }
        if key.is_empty() {
            return Err(ApiError::MissingKey { bot_id });
        }
        Ok(Endpoint {
            base,
            bot_id,
            key,
            version,
        })
    }

    pub fn bot_id(&self) -> BotId {
        self.bot_id
    }

    pub fn version(&self) -> ApiVersion {
        self.version
    }

    /// The request URL, key included. Never log or display it: use [`Endpoint::describe`].
    pub(crate) fn url(&self, method: &Method) -> Result<reqwest::Url, ApiError> {
        self.build(method, self.key.expose())
    }

    /// The request URL with the key shown as `***`, for messages.
    pub fn describe(&self, method: &Method) -> String {
        match self.build(method, REDACTED) {
            Ok(url) => url.as_str().replace("%2A%2A%2A", REDACTED),
            Err(_) => format!("{} {}", self.base, method.label()),
        }
    }

    fn build(&self, method: &Method, key: &str) -> Result<reqwest::Url, ApiError> {
        // The key is one path segment: characters such as `%`, `?` or `/` are escaped.
        let key = if key == REDACTED {
            REDACTED.to_string()
        } else {
            encode_segment(key)
        };
        let tail = match self.version {
            ApiVersion::V1 => format!("v1/bot{}/{}/{}", self.bot_id, key, method.v1_path()),
            ApiVersion::Legacy => {
                let name = method
                    .legacy_name()
                    .ok_or_else(|| ApiError::NotInApiVersion {
                        endpoint: method.label(),
                        version: self.version,
                    })?;
                format!("bot{}/{}/{}", self.bot_id, key, name)
            }
        };
        let mut base = self.base.clone();
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.join(&tail).map_err(|e| ApiError::InvalidBaseUrl {
            url: self.base.to_string(),
            reason: e.to_string(),
        })
    }
}

/// `127.0.0.0/8`, `::1` and `localhost`.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(base: &str) -> Result<Endpoint, ApiError> {
        Endpoint::new(
            base,
            BotId::constant(42),
            ApiKey::new("endpoint-test-key"),
            ApiVersion::V1,
        )
    }

    #[test]
    fn builds_v1_urls_and_describes_them_redacted() {
        let ep = endpoint("https://api.tgmembership.com").expect("valid");
        let url = ep.url(&Method::UsersCount).expect("url");
        assert_eq!(
            url.as_str(),
            "https://api.tgmembership.com/v1/bot42/endpoint-test-key/users/count"
        );
        assert_eq!(
            ep.describe(&Method::Order("a b/c".into())),
            "https://api.tgmembership.com/v1/bot42/***/orders/a%20b%2Fc"
        );
    }

    #[test]
    fn a_key_is_one_escaped_path_segment() {
        let ep = Endpoint::new(
            "https://h",
            BotId::constant(1),
            ApiKey::new("a%b/c?d#e f"),
            ApiVersion::V1,
        )
        .expect("valid");
        let url = ep.url(&Method::Plans).expect("url");
        assert_eq!(
            url.as_str(),
            "https://h/v1/bot1/a%25b%2Fc%3Fd%23e%20f/plans"
        );
        assert_eq!(ep.describe(&Method::Plans), "https://h/v1/bot1/***/plans");
    }

    #[test]
    fn keeps_a_base_path_prefix() {
        let ep = endpoint("http://127.0.0.1:8080/proxy").expect("valid");
        assert_eq!(
            ep.describe(&Method::Orders),
            "http://127.0.0.1:8080/proxy/v1/bot42/***/orders"
        );
    }

    #[test]
    fn refuses_plain_http_to_other_hosts() {
        assert!(endpoint("http://localhost:1/").is_ok());
        assert!(endpoint("http://[::1]:1/").is_ok());
        for bad in [
            "http://example.com",
            "http://10.0.0.1",
            "ftp://127.0.0.1",
            "nonsense",
        ] {
            match endpoint(bad) {
                Err(ApiError::InvalidBaseUrl { url, .. }) => assert_eq!(url, bad),
                other => panic!("{bad}: expected InvalidBaseUrl, got {other:?}"),
            }
        }
    }

    #[test]
    fn legacy_maps_names_and_refuses_missing_endpoints() {
        let ep = Endpoint::new(
            "https://api.tgmembership.com",
            BotId::constant(7),
            ApiKey::new("legacy-test-key"),
            ApiVersion::Legacy,
        )
        .expect("valid");
        assert_eq!(
            ep.describe(&Method::Members),
            "https://api.tgmembership.com/bot7/***/getSubscribers"
        );
        match ep.url(&Method::Orders) {
            Err(ApiError::NotInApiVersion { endpoint, version }) => {
                assert_eq!(endpoint, "/orders");
                assert_eq!(version, ApiVersion::Legacy);
            }
            other => panic!("expected NotInApiVersion, got {other:?}"),
        }
    }
}
