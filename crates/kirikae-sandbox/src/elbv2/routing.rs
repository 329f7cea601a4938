//! Where a request goes: the first rule (by priority) whose conditions all match, else the default
//! action; for a forward, a target group chosen by weight among those with a routable target, then one
//! of its routable targets round-robin. Runs under the world lock, once per request, and only decides:
//! the proxy does the I/O after the lock is released.

use std::net::SocketAddr;

use super::actions::{self, Action, ActionKind, FixedResponse, Forward, Redirect};
use super::conditions::RequestFacts;
use super::{Elbv2State, TargetState, health, rules};

#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Forward(SocketAddr),
    Fixed(FixedResponse),
    Redirect {
        status: u16,
        location: String,
    },
    /// No routable target in any group the forward may use (ALB answers 503).
    NoHealthyTarget,
    /// The listener is gone (deleted while a connection was open).
    NoListener,
}

/// The actions that apply to a request: the first matching rule's, else the defaults.
pub fn select<'a>(
    rules: &[&'a rules::Rule],
    default_actions: &'a [Action],
    req: &RequestFacts,
) -> &'a [Action] {
    rules
        .iter()
        .find(|r| r.conditions.iter().all(|c| c.matches(req)))
        .map_or(default_actions, |r| r.actions.as_slice())
}

/// Pick a target group: `weights[i]` is group i's weight, or 0 when it has no routable target (a
/// weight-0 group never gets traffic). `roll` is a uniformly random number.
pub fn pick_weighted(weights: &[u32], roll: u64) -> Option<usize> {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    if total == 0 {
        return None;
    }
    let mut point = roll % total;
    for (i, &w) in weights.iter().enumerate() {
        if point < u64::from(w) {
            return Some(i);
        }
        point -= u64::from(w);
    }
    None
}

pub fn route(
    st: &mut Elbv2State,
    listener_arn: &str,
    req: &RequestFacts,
    listener_port: u16,
) -> Decision {
    let Some(listener) = st.listeners.get(listener_arn) else {
        return Decision::NoListener;
    };
    let rules = rules::of_listener(st, listener_arn);
    let chosen = select(&rules, &listener.default_actions, req);
    let Some(action) = actions::routing_action(chosen) else {
        return Decision::NoHealthyTarget;
    };
    match action.kind.clone() {
        ActionKind::Forward(f) => forward(st, &f),
        ActionKind::FixedResponse(r) => Decision::Fixed(r),
        ActionKind::Redirect(r) => Decision::Redirect {
            status: if r.status_code == "HTTP_301" {
                301
            } else {
                302
            },
            location: redirect_location(&r, req, listener_port),
        },
    }
}

fn forward(st: &mut Elbv2State, f: &Forward) -> Decision {
    // Each group's candidates once: they decide its weight, and the chosen group's are used.
    let candidates: Vec<Vec<SocketAddr>> = f
        .groups
        .iter()
        .map(|g| {
            st.target_groups
                .get(&g.arn)
                .map(candidates)
                .unwrap_or_default()
        })
        .collect();
    let weights: Vec<u32> = f
        .groups
        .iter()
        .zip(&candidates)
        .map(|(g, c)| if c.is_empty() { 0 } else { g.weight })
        .collect();
    let Some(i) = pick_weighted(&weights, rand::random()) else {
        return Decision::NoHealthyTarget;
    };
    let Some(tg) = st.target_groups.get_mut(&f.groups[i].arn) else {
        return Decision::NoHealthyTarget;
    };
    let chosen = &candidates[i];
    let addr = chosen[tg.next_target % chosen.len()];
    tg.next_target = tg.next_target.wrapping_add(1);
    Decision::Forward(addr)
}

/// The targets of a group that may take a request: its routable (healthy) targets; when it has none
/// but has unhealthy ones, all of those — ALB "fails open" rather than answer 503 while every target
/// fails its health checks. Targets still `initial`, `draining` or `unused` never get requests.
fn candidates(tg: &super::target_groups::TargetGroup) -> Vec<SocketAddr> {
    let with_state = |wanted: fn(TargetState) -> bool| -> Vec<SocketAddr> {
        tg.targets
            .iter()
            .filter(|t| wanted(t.report(tg, true).state))
            .map(|t| SocketAddr::new(t.ip, t.port))
            .collect()
    };
    let healthy = with_state(health::routable);
    if healthy.is_empty() {
        with_state(|s| s == TargetState::Unhealthy)
    } else {
        healthy
    }
}

/// ALB redirect: each component defaults to the request's own (`#{protocol}`, `#{host}`, `#{port}`,
/// `/#{path}`, `#{query}`), and the placeholders may appear inside given values too.
pub fn redirect_location(r: &Redirect, req: &RequestFacts, listener_port: u16) -> String {
    let host = req
        .host
        .map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name))
        .unwrap_or_default();
    let path = req.path.strip_prefix('/').unwrap_or(req.path);
    let query = req.query.unwrap_or("");
    let fill = |s: &str| {
        s.replace("#{protocol}", "http")
            .replace("#{host}", host)
            .replace("#{port}", &listener_port.to_string())
            .replace("#{path}", path)
            .replace("#{query}", query)
    };
    let protocol = fill(r.protocol.as_deref().unwrap_or("#{protocol}")).to_lowercase();
    let host = fill(r.host.as_deref().unwrap_or("#{host}"));
    let port = fill(r.port.as_deref().unwrap_or("#{port}"));
    let path = fill(r.path.as_deref().unwrap_or("/#{path}"));
    let query = fill(r.query.as_deref().unwrap_or("#{query}"));
    let mut location = format!("{protocol}://{host}:{port}{path}");
    if !query.is_empty() {
        location.push('?');
        location.push_str(&query);
    }
    location
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elbv2::actions::parse as parse_actions;
    use crate::elbv2::conditions::parse as parse_conditions;
    use crate::elbv2::rules::Rule;
    use serde_json::json;

    #[test]
    fn weights_split_traffic_and_zero_never_wins() {
        assert_eq!(pick_weighted(&[0, 0], 7), None);
        assert_eq!(pick_weighted(&[], 7), None);
        let mut counts = [0u32; 2];
        for roll in 0..1000u64 {
            counts[pick_weighted(&[90, 10], roll).unwrap()] += 1;
        }
        assert_eq!(counts, [900, 100]);
        for roll in 0..100u64 {
            assert_eq!(pick_weighted(&[0, 100], roll), Some(1));
            assert_eq!(pick_weighted(&[100, 0], roll), Some(0));
        }
    }

    fn rule(priority: i64, conditions: serde_json::Value, tg: &str) -> Rule {
        Rule {
            arn: format!("rule-{priority}"),
            listener_arn: "l".into(),
            priority,
            conditions: parse_conditions(Some(&conditions)).unwrap(),
            actions: parse_actions(
                Some(&json!([{"Type": "forward", "TargetGroupArn": tg}])),
                |_| true,
            )
            .unwrap(),
        }
    }

    fn tg_of(actions: &[Action]) -> String {
        actions::target_groups(actions).next().unwrap().to_string()
    }

    #[test]
    fn rules_match_by_priority_then_default() {
        let api = rule(
            10,
            json!([{"Field": "path-pattern", "Values": ["/api/*"]}]),
            "api",
        );
        let api_v2 = rule(
            5,
            json!([{"Field": "path-pattern", "Values": ["/api/v2/*"]}]),
            "api-v2",
        );
        let host = rule(
            20,
            json!([{"Field": "host-header", "Values": ["admin.example.com"]}]),
            "admin",
        );
        let default = parse_actions(
            Some(&json!([{"Type": "forward", "TargetGroupArn": "web"}])),
            |_| true,
        )
        .unwrap();
        let mut rules = vec![&api, &host, &api_v2];
        rules.sort_by_key(|r| r.priority);
        let h = http::HeaderMap::new();
        let req = |path, host| RequestFacts {
            method: "GET",
            path,
            query: None,
            host,
            headers: &h,
            source: "127.0.0.1".parse().unwrap(),
        };
        assert_eq!(
            tg_of(select(&rules, &default, &req("/api/v2/x", None))),
            "api-v2"
        );
        assert_eq!(
            tg_of(select(&rules, &default, &req("/api/v1/x", None))),
            "api"
        );
        assert_eq!(
            tg_of(select(
                &rules,
                &default,
                &req("/", Some("ADMIN.example.com"))
            )),
            "admin"
        );
        assert_eq!(
            tg_of(select(&rules, &default, &req("/", Some("www.example.com")))),
            "web"
        );
    }

    #[test]
    fn redirects_fill_placeholders() {
        let h = http::HeaderMap::new();
        let req = RequestFacts {
            method: "GET",
            path: "/a/b",
            query: Some("x=1"),
            host: Some("shop.example.com:80"),
            headers: &h,
            source: "127.0.0.1".parse().unwrap(),
        };
        let r = Redirect {
            protocol: Some("HTTPS".into()),
            host: None,
            port: Some("443".into()),
            path: None,
            query: None,
            status_code: "HTTP_301".into(),
        };
        assert_eq!(
            redirect_location(&r, &req, 80),
            "https://shop.example.com:443/a/b?x=1"
        );
        let r = Redirect {
            protocol: None,
            host: Some("new.#{host}".into()),
            port: None,
            path: Some("/v2/#{path}".into()),
            query: Some("".into()),
            status_code: "HTTP_302".into(),
        };
        assert_eq!(
            redirect_location(&r, &req, 80),
            "http://new.shop.example.com:80/v2/a/b"
        );
    }

    /// A state with a listener forwarding to `blue`/`green` by weight, each with two targets.
    fn weighted_state(blue_weight: u32, green_weight: u32) -> (Elbv2State, Vec<String>) {
        use crate::elbv2::{listeners::Listener, target_groups, targets};
        let key = crate::world::RegionKey {
            account: "123456789012".into(),
            region: "us-east-1".into(),
        };
        let mut st = Elbv2State::default();
        let mut arns = Vec::new();
        for name in ["blue", "green"] {
            let out = target_groups::create(
                &mut st,
                &key,
                &json!({"Name": name, "Protocol": "HTTP", "Port": 80, "TargetType": "ip"}),
            )
            .unwrap();
            arns.push(
                out["TargetGroups"][0]["TargetGroupArn"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        for (i, arn) in arns.iter().enumerate() {
            for port in [8000 + 10 * i as u16, 8001 + 10 * i as u16] {
                targets::register(&mut st, arn, "127.0.0.1", Some(port), None, 0.0).unwrap();
            }
        }
        let actions = json!([{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": arns[0], "Weight": blue_weight}, {"TargetGroupArn": arns[1], "Weight": green_weight}
        ]}}]);
        st.listeners.insert(
            "l".into(),
            Listener {
                arn: "l".into(),
                lb_arn: "lb".into(),
                port: 80,
                protocol: "HTTP".into(),
                default_actions: parse_actions(Some(&actions), |_| true).unwrap(),
                default_rule_arn: "l-default".into(),
                stop: tokio_util::sync::CancellationToken::new(),
                seq: 1,
            },
        );
        (st, arns)
    }

    fn set_verdict(st: &mut Elbv2State, tg: &str, port: u16, verdict: health::Verdict) {
        let t = st
            .target_groups
            .get_mut(tg)
            .unwrap()
            .targets
            .iter_mut()
            .find(|t| t.port == port)
            .unwrap();
        t.health.verdict = verdict;
    }

    fn ports_hit(st: &mut Elbv2State, n: usize) -> std::collections::BTreeMap<u16, usize> {
        let h = http::HeaderMap::new();
        let req = RequestFacts {
            method: "GET",
            path: "/",
            query: None,
            host: None,
            headers: &h,
            source: "127.0.0.1".parse().unwrap(),
        };
        let mut hits = std::collections::BTreeMap::new();
        for _ in 0..n {
            match route(st, "l", &req, 80) {
                Decision::Forward(addr) => *hits.entry(addr.port()).or_default() += 1,
                other => {
                    *hits
                        .entry(match other {
                            Decision::NoHealthyTarget => 503,
                            _ => 0,
                        })
                        .or_default() += 1
                }
            }
        }
        hits
    }

    #[test]
    fn only_healthy_targets_get_requests() {
        use health::{Outcome, Verdict};
        let (mut st, arns) = weighted_state(1, 1);
        // Everything is still initial: nothing to route to.
        assert_eq!(ports_hit(&mut st, 3), [(503, 3)].into());
        set_verdict(&mut st, &arns[0], 8000, Verdict::Healthy);
        set_verdict(
            &mut st,
            &arns[0],
            8001,
            Verdict::Unhealthy(Outcome::CodeMismatch(500)),
        );
        // Green has no healthy target, so blue's one healthy target takes everything.
        assert_eq!(ports_hit(&mut st, 10), [(8000, 10)].into());
        set_verdict(&mut st, &arns[0], 8001, Verdict::Healthy);
        assert_eq!(
            ports_hit(&mut st, 10),
            [(8000, 5), (8001, 5)].into(),
            "round-robin"
        );
        // A draining target gets no new requests.
        crate::elbv2::targets::deregister(&mut st, &arns[0], "127.0.0.1", 8001, 0.0);
        assert_eq!(ports_hit(&mut st, 4), [(8000, 4)].into());
    }

    #[test]
    fn a_group_whose_targets_all_fail_opens_to_all_of_them() {
        use health::{Outcome, Verdict};
        let (mut st, arns) = weighted_state(1, 0);
        for port in [8000, 8001] {
            set_verdict(
                &mut st,
                &arns[0],
                port,
                Verdict::Unhealthy(Outcome::CodeMismatch(500)),
            );
        }
        assert_eq!(
            ports_hit(&mut st, 4),
            [(8000, 2), (8001, 2)].into(),
            "fail open: every unhealthy target shares the requests"
        );
        // As soon as one target is healthy again, only it gets requests.
        set_verdict(&mut st, &arns[0], 8001, Verdict::Healthy);
        assert_eq!(ports_hit(&mut st, 4), [(8001, 4)].into());
    }

    #[test]
    fn weight_zero_groups_never_get_requests() {
        use health::Verdict;
        let (mut st, arns) = weighted_state(0, 100);
        for (tg, port) in [(0, 8000), (0, 8001), (1, 8010), (1, 8011)] {
            set_verdict(&mut st, &arns[tg], port, Verdict::Healthy);
        }
        let hits = ports_hit(&mut st, 50);
        assert_eq!(hits.keys().copied().collect::<Vec<_>>(), vec![8010, 8011]);
        let (mut st, arns) = weighted_state(50, 50);
        for (tg, port) in [(0, 8000), (1, 8010)] {
            set_verdict(&mut st, &arns[tg], port, Verdict::Healthy);
        }
        let hits = ports_hit(&mut st, 2000);
        assert!((800..1200).contains(&hits[&8000]), "{hits:?}");
        assert_eq!(hits[&8000] + hits[&8010], 2000);
    }
}
