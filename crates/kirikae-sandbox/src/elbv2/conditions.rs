//! Rule conditions (path-pattern, host-header, http-request-method, http-header, query-string,
//! source-ip): parsed from the input, echoed as AWS describes them, and matched against requests.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::{errors, params};
use crate::protocol::ApiError;

#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    PathPattern(Vec<String>),
    HostHeader(Vec<String>),
    HttpRequestMethod(Vec<String>),
    HttpHeader {
        name: String,
        values: Vec<String>,
    },
    /// (key, value) pairs; a missing key matches any parameter's value.
    QueryString(Vec<(Option<String>, String)>),
    SourceIp(Vec<String>),
}

/// What of a request the conditions look at.
pub struct RequestFacts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// The Host header, port included if the client sent one.
    pub host: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
    pub source: IpAddr,
}

pub fn parse(list: Option<&Value>) -> Result<Vec<Condition>, ApiError> {
    let items = list
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut out = Vec::new();
    for item in items {
        let field = params::str_opt(item, "Field").unwrap_or_default();
        if item.get("RegexValues").is_some()
            || item.pointer("/PathPatternConfig/RegexValues").is_some()
        {
            return Err(errors::invalid_configuration(
                "Regular-expression conditions are not supported by the kirikae sandbox",
            ));
        }
        let values_in = |config: &str| {
            let mut v = params::strings(item, "Values").unwrap_or_default();
            v.extend(
                item.get(config)
                    .and_then(|c| params::strings(c, "Values"))
                    .unwrap_or_default(),
            );
            v
        };
        let condition = match field {
            "path-pattern" => Condition::PathPattern(values_in("PathPatternConfig")),
            "host-header" => Condition::HostHeader(values_in("HostHeaderConfig")),
            "http-request-method" => {
                Condition::HttpRequestMethod(values_in("HttpRequestMethodConfig"))
            }
            "http-header" => {
                let config = item.get("HttpHeaderConfig");
                Condition::HttpHeader {
                    name: config
                        .and_then(|c| params::str_opt(c, "HttpHeaderName"))
                        .unwrap_or_default()
                        .to_string(),
                    values: config
                        .and_then(|c| params::strings(c, "Values"))
                        .unwrap_or_default(),
                }
            }
            "query-string" => Condition::QueryString(
                item.pointer("/QueryStringConfig/Values")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|kv| {
                        (
                            params::str_opt(kv, "Key").map(str::to_string),
                            params::str_opt(kv, "Value").unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
            ),
            "source-ip" => Condition::SourceIp(values_in("SourceIpConfig")),
            other => {
                return Err(errors::validation(format!(
                    "Condition field '{other}' is not valid"
                )));
            }
        };
        if condition.is_empty() {
            return Err(errors::validation(format!(
                "A '{field}' condition must have at least one value"
            )));
        }
        if out.iter().any(|c: &Condition| {
            c.field() == field
                && !matches!(c, Condition::HttpHeader { .. } | Condition::QueryString(_))
        }) {
            return Err(errors::validation(format!(
                "A rule can have only one '{field}' condition"
            )));
        }
        if let Condition::SourceIp(cidrs) = &condition
            && let Some(bad) = cidrs.iter().find(|c| parse_cidr(c).is_none())
        {
            return Err(errors::validation(format!(
                "'{bad}' is not a valid CIDR block"
            )));
        }
        out.push(condition);
    }
    Ok(out)
}

impl Condition {
    fn field(&self) -> &'static str {
        match self {
            Condition::PathPattern(_) => "path-pattern",
            Condition::HostHeader(_) => "host-header",
            Condition::HttpRequestMethod(_) => "http-request-method",
            Condition::HttpHeader { .. } => "http-header",
            Condition::QueryString(_) => "query-string",
            Condition::SourceIp(_) => "source-ip",
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Condition::PathPattern(v)
            | Condition::HostHeader(v)
            | Condition::HttpRequestMethod(v)
            | Condition::SourceIp(v) => v.is_empty(),
            Condition::HttpHeader { values, .. } => values.is_empty(),
            Condition::QueryString(v) => v.is_empty(),
        }
    }

    /// As AWS describes it: path and host conditions carry both `Values` and their config.
    pub fn to_json(&self) -> Value {
        let field = self.field();
        match self {
            Condition::PathPattern(v) => {
                json!({"Field": field, "Values": v, "PathPatternConfig": {"Values": v}})
            }
            Condition::HostHeader(v) => {
                json!({"Field": field, "Values": v, "HostHeaderConfig": {"Values": v}})
            }
            Condition::HttpRequestMethod(v) => {
                json!({"Field": field, "HttpRequestMethodConfig": {"Values": v}})
            }
            Condition::HttpHeader { name, values } => {
                json!({"Field": field, "HttpHeaderConfig": {"HttpHeaderName": name, "Values": values}})
            }
            Condition::QueryString(kvs) => {
                let values: Vec<Value> = kvs
                    .iter()
                    .map(|(k, v)| match k {
                        Some(k) => json!({"Key": k, "Value": v}),
                        None => json!({"Value": v}),
                    })
                    .collect();
                json!({"Field": field, "QueryStringConfig": {"Values": values}})
            }
            Condition::SourceIp(v) => json!({"Field": field, "SourceIpConfig": {"Values": v}}),
        }
    }

    /// Whether a request meets this condition (any one of its values suffices).
    pub fn matches(&self, req: &RequestFacts) -> bool {
        match self {
            // Paths compare case-sensitively, and only the path (not the query string).
            Condition::PathPattern(patterns) => {
                patterns.iter().any(|p| wildcard(p, req.path, false))
            }
            Condition::HostHeader(patterns) => {
                let host = req.host.map(strip_port).unwrap_or_default();
                patterns.iter().any(|p| wildcard(p, host, true))
            }
            Condition::HttpRequestMethod(methods) => methods.iter().any(|m| m == req.method),
            Condition::HttpHeader { name, values } => req
                .headers
                .get_all(name.as_str())
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|actual| values.iter().any(|p| wildcard(p, actual, true))),
            Condition::QueryString(kvs) => {
                let pairs: Vec<(String, String)> = req
                    .query
                    .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                    .unwrap_or_default();
                kvs.iter().any(|(k, v)| {
                    pairs.iter().any(|(pk, pv)| {
                        k.as_ref().is_none_or(|k| wildcard(k, pk, true)) && wildcard(v, pv, true)
                    })
                })
            }
            Condition::SourceIp(cidrs) => cidrs
                .iter()
                .filter_map(|c| parse_cidr(c))
                .any(|(net, bits)| in_cidr(req.source, net, bits)),
        }
    }
}

/// `host:port` → `host` (IPv6 literals keep their brackets).
fn strip_port(host: &str) -> &str {
    match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host,
    }
}

/// ALB wildcard matching: `*` matches any run of characters (including none), `?` exactly one.
pub fn wildcard(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if ignore_case {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, t) = (fold(pattern), fold(text));
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and how much text it has swallowed so far: backtrack there on mismatch.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn parse_cidr(cidr: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = cidr.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((addr, bits))
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_alb() {
        assert!(wildcard("/img/*", "/img/a/b.png", false));
        assert!(wildcard("/img/*", "/img/", false));
        assert!(!wildcard("/img/*", "/img", false));
        assert!(wildcard("/api/v?/users", "/api/v2/users", false));
        assert!(!wildcard("/api/v?/users", "/api/v10/users", false));
        assert!(wildcard("*", "", false));
        assert!(wildcard("*.example.com", "www.Example.COM", true));
        assert!(!wildcard("/Img/*", "/img/x", false));
        assert!(wildcard("/a*b*c", "/aXbYbZc", false));
        assert!(!wildcard("/a*b*c", "/aXbYbZ", false));
        assert!(wildcard("/exact", "/exact", false));
    }

    fn facts<'a>(
        path: &'a str,
        host: Option<&'a str>,
        headers: &'a http::HeaderMap,
    ) -> RequestFacts<'a> {
        RequestFacts {
            method: "GET",
            path,
            query: Some("a=1&b=two"),
            host,
            headers,
            source: "127.0.0.1".parse().unwrap(),
        }
    }

    #[test]
    fn conditions_match_requests() {
        let h = http::HeaderMap::new();
        let c = parse(Some(&json!([
            {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*", "/v?"]}},
            {"Field": "host-header", "Values": ["*.example.com"]}
        ])))
        .unwrap();
        let all = |req: &RequestFacts| c.iter().all(|c| c.matches(req));
        assert!(all(&facts("/api/x", Some("Shop.Example.com:80"), &h)));
        assert!(all(&facts("/v2", Some("a.example.com"), &h)));
        assert!(!all(&facts("/other", Some("a.example.com"), &h)));
        assert!(!all(&facts("/api/x", Some("example.org"), &h)));
        assert!(!all(&facts("/api/x", None, &h)));
        let q = parse(Some(&json!([{"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "b", "Value": "t*"}]}}]))).unwrap();
        assert!(q[0].matches(&facts("/", None, &h)));
        let ip = parse(Some(
            &json!([{"Field": "source-ip", "SourceIpConfig": {"Values": ["127.0.0.0/8"]}}]),
        ))
        .unwrap();
        assert!(ip[0].matches(&facts("/", None, &h)));
    }

    #[test]
    fn conditions_echo_and_validate() {
        let c = parse(Some(
            &json!([{"Field": "path-pattern", "Values": ["/img/*"]}]),
        ))
        .unwrap();
        assert_eq!(
            c[0].to_json(),
            json!({"Field": "path-pattern", "Values": ["/img/*"], "PathPatternConfig": {"Values": ["/img/*"]}})
        );
        assert!(parse(Some(&json!([{"Field": "path-pattern"}]))).is_err());
        assert!(parse(Some(&json!([{"Field": "bogus", "Values": ["x"]}]))).is_err());
        let twice = json!([{"Field": "path-pattern", "Values": ["/a"]}, {"Field": "path-pattern", "Values": ["/b"]}]);
        assert!(parse(Some(&twice)).is_err());
        assert!(
            parse(Some(
                &json!([{"Field": "source-ip", "SourceIpConfig": {"Values": ["nope"]}}])
            ))
            .is_err()
        );
    }
}
