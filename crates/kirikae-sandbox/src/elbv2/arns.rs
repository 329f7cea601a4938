//! ELBv2 ARN formats and the random ids in them.
//!
//! AWS: `loadbalancer/app/{name}/{id}`, `targetgroup/{name}/{id}`, `listener/app/{lb}/{lbid}/{id}`,
//! `listener-rule/app/{lb}/{lbid}/{listenerid}/{id}`; every id is 16 lowercase hex digits.

use crate::world::RegionKey;

const SERVICE: &str = "elasticloadbalancing";

/// 16 lowercase hex digits, as in every ELBv2 ARN.
pub fn random_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

pub fn load_balancer(key: &RegionKey, name: &str) -> String {
    key.arn(SERVICE, &format!("loadbalancer/app/{name}/{}", random_id()))
}

pub fn target_group(key: &RegionKey, name: &str) -> String {
    key.arn(SERVICE, &format!("targetgroup/{name}/{}", random_id()))
}

/// A listener of the load balancer `lb_arn`: it shares the balancer's `app/{name}/{id}` path.
pub fn listener(lb_arn: &str) -> String {
    format!(
        "{}/{}",
        lb_arn.replacen(":loadbalancer/", ":listener/", 1),
        random_id()
    )
}

/// A rule of the listener `listener_arn`.
pub fn rule(listener_arn: &str) -> String {
    format!(
        "{}/{}",
        listener_arn.replacen(":listener/", ":listener-rule/", 1),
        random_id()
    )
}

/// The kind of ELBv2 resource an ARN names (what `DescribeTags` reports missing resources as).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    LoadBalancer,
    TargetGroup,
    Listener,
    Rule,
    Other,
}

pub fn kind(arn: &str) -> Kind {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or("");
    match resource.split('/').next().unwrap_or("") {
        "loadbalancer" => Kind::LoadBalancer,
        "targetgroup" => Kind::TargetGroup,
        "listener" => Kind::Listener,
        "listener-rule" => Kind::Rule,
        _ => Kind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> RegionKey {
        RegionKey {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
        }
    }

    #[test]
    fn arns_follow_aws_formats() {
        let lb = load_balancer(&key(), "web");
        assert!(
            lb.starts_with(
                "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/"
            ),
            "{lb}"
        );
        let lb_id = lb.rsplit('/').next().unwrap();
        assert_eq!(lb_id.len(), 16);
        assert!(
            lb_id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        let l = listener(&lb);
        assert!(l.contains(&format!(":listener/app/web/{lb_id}/")), "{l}");
        let r = rule(&l);
        assert!(
            r.contains(&format!(":listener-rule/app/web/{lb_id}/")),
            "{r}"
        );
        assert_eq!(r.split('/').count(), 6);
        let tg = target_group(&key(), "blue");
        assert!(tg.contains(":targetgroup/blue/"), "{tg}");
        assert_eq!(kind(&lb), Kind::LoadBalancer);
        assert_eq!(kind(&tg), Kind::TargetGroup);
        assert_eq!(kind(&l), Kind::Listener);
        assert_eq!(kind(&r), Kind::Rule);
        assert_eq!(kind("nonsense"), Kind::Other);
    }
}
