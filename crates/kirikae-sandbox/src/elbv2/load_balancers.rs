//! Load balancers: each Application Load Balancer gets a loopback address of its own, which is also its
//! `DNSName`; its listeners really listen there.

use std::net::Ipv4Addr;

use serde_json::{Value, json};

use super::attributes::{self, Attributes};
use super::{Elbv2State, arns, errors, params, tags};
use crate::protocol::ApiError;
use crate::world::{Ctx, RegionKey};

/// Application load balancers per account and region (AWS's default quota, as `DescribeAccountLimits`
/// reports it). Each one holds a loopback address and its listeners hold ports.
pub const MAX_LOAD_BALANCERS: usize = 50;

/// The sandbox has no VPCs: a load balancer reports this one.
pub const SANDBOX_VPC: &str = "vpc-0a1b2c3d4e5f60718";

pub struct LoadBalancer {
    pub arn: String,
    pub name: String,
    pub ip: Ipv4Addr,
    pub scheme: String,
    pub ip_address_type: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub created: f64,
    pub attributes: Attributes,
    pub seq: u64,
}

impl LoadBalancer {
    /// The settings that decide whether a second create with the same name is the same request.
    fn same_settings(&self, scheme: &str, subnets: &[String], security_groups: &[String]) -> bool {
        self.scheme == scheme && self.subnets == subnets && self.security_groups == security_groups
    }

    pub fn to_json(&self, key: &RegionKey) -> Value {
        json!({
            "LoadBalancerArn": self.arn,
            "DNSName": self.ip.to_string(),
            // Route 53 zone of us-east-1 ALBs; clients only echo it.
            "CanonicalHostedZoneId": "Z35SXDOTRQ7X7K",
            "CreatedTime": self.created,
            "LoadBalancerName": self.name,
            "Scheme": self.scheme,
            "VpcId": SANDBOX_VPC,
            "State": {"Code": "active"},
            "Type": "application",
            "AvailabilityZones": self.zones(key),
            "SecurityGroups": self.security_groups,
            "IpAddressType": self.ip_address_type,
        })
    }

    fn zones(&self, key: &RegionKey) -> Value {
        // One zone per subnet, named after the region like AWS zones (a, b, c, ...).
        let zones: Vec<Value> = self
            .subnets
            .iter()
            .enumerate()
            .map(|(i, subnet)| {
                let letter = (b'a' + (i % 26) as u8) as char;
                json!({"ZoneName": format!("{}{letter}", key.region), "SubnetId": subnet, "LoadBalancerAddresses": []})
            })
            .collect();
        Value::Array(zones)
    }
}

/// `Subnets` and `SubnetMappings[].SubnetId` together (the sandbox has no subnets to check them against).
fn subnets_of(input: &Value) -> Vec<String> {
    let mut subnets = params::strings(input, "Subnets").unwrap_or_default();
    for mapping in input
        .get("SubnetMappings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(s) = params::str_opt(mapping, "SubnetId") {
            subnets.push(s.to_string());
        }
    }
    subnets
}

pub fn create(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let name = params::str_req(input, "Name")?;
    errors::check_name("Load balancer", name)?;
    if name.starts_with("internal-") {
        return Err(errors::validation(format!(
            "Load balancer name '{name}' cannot begin with 'internal-'"
        )));
    }
    let lb_type = params::str_opt(input, "Type").unwrap_or("application");
    if lb_type != "application" {
        return Err(errors::invalid_configuration(format!(
            "Load balancer type '{lb_type}' is not supported by the kirikae sandbox: it emulates application load balancers"
        )));
    }
    let scheme = params::str_opt(input, "Scheme")
        .unwrap_or("internet-facing")
        .to_string();
    let mut subnets = params::strings(input, "Subnets").unwrap_or_default();
    for mapping in input
        .get("SubnetMappings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(s) = params::str_opt(mapping, "SubnetId") {
            subnets.push(s.to_string());
        }
    }
    let security_groups = params::strings(input, "SecurityGroups").unwrap_or_default();
    let new_tags = tags::from_input(input)?;
    let key = cx.region.key.clone();
    let st = &mut cx.region.elbv2;
    // CreateLoadBalancer is idempotent: the same name with the same settings answers the existing one.
    if let Some(existing) = st.load_balancers.values().find(|lb| lb.name == name) {
        if existing.same_settings(&scheme, &subnets, &security_groups) {
            return Ok(json!({"LoadBalancers": [existing.to_json(&key)]}));
        }
        return Err(ApiError::new(
            "DuplicateLoadBalancerNameException",
            format!(
                "A load balancer with the same name '{name}' exists, but with different settings"
            ),
        ));
    }
    if st.load_balancers.len() >= MAX_LOAD_BALANCERS {
        return Err(ApiError::new(
            "TooManyLoadBalancersException",
            format!(
                "The maximum number of load balancers has been reached ({MAX_LOAD_BALANCERS} per account and region, AWS's default quota)"
            ),
        ));
    }
    let ip = cx.shared.addrs.allocate().map_err(|e| {
        ApiError::new(
            "InvalidSubnetException",
            format!(
                "Not enough IP space available in {}: {e}",
                subnets.first().map_or("the subnet", String::as_str)
            ),
        )
    })?;
    let mut attributes = Attributes::load_balancer();
    if scheme == "internal" {
        attributes.set_known("ipv6.deny_all_igw_traffic", "true");
    }
    let lb = LoadBalancer {
        arn: arns::load_balancer(&key, name),
        name: name.to_string(),
        ip,
        scheme,
        ip_address_type: params::str_opt(input, "IpAddressType")
            .unwrap_or("ipv4")
            .to_string(),
        subnets,
        security_groups,
        created: cx.now,
        attributes,
        seq: st.next_seq(),
    };
    tracing::info!(name, ip = %lb.ip, "load balancer created");
    st.tags.add(&lb.arn, new_tags)?;
    let out = json!({"LoadBalancers": [lb.to_json(&key)]});
    st.load_balancers.insert(lb.arn.clone(), lb);
    Ok(out)
}

pub fn describe(st: &Elbv2State, key: &RegionKey, input: &Value) -> Result<Value, ApiError> {
    let chosen: Vec<&LoadBalancer> = if let Some(arns) = params::strings(input, "LoadBalancerArns")
    {
        let missing: Vec<String> = arns
            .iter()
            .filter(|a| !st.load_balancers.contains_key(*a))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(errors::load_balancers_not_found(&missing));
        }
        arns.iter()
            .filter_map(|a| st.load_balancers.get(a))
            .collect()
    } else if let Some(names) = params::strings(input, "Names") {
        let find = |n: &String| st.load_balancers.values().find(|lb| lb.name == *n);
        let missing: Vec<String> = names
            .iter()
            .filter(|n| find(n).is_none())
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(errors::load_balancers_not_found(&missing));
        }
        names.iter().filter_map(find).collect()
    } else {
        let mut all: Vec<&LoadBalancer> = st.load_balancers.values().collect();
        all.sort_by_key(|lb| lb.seq);
        all
    };
    let (page, next) = params::page(chosen.iter().map(|lb| lb.to_json(key)).collect(), input)?;
    let mut out = json!({"LoadBalancers": page});
    if let Some(m) = next {
        out["NextMarker"] = json!(m);
    }
    Ok(out)
}

/// Deletes the balancer and its listeners (their ports close) and rules. Succeeds for an unknown ARN,
/// as AWS does.
pub fn delete(st: &mut Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let arn = params::str_req(input, "LoadBalancerArn")?;
    let Some(lb) = st.load_balancers.get(arn) else {
        return Ok(json!({}));
    };
    if lb.attributes.get(attributes::DELETION_PROTECTION) == Some("true") {
        return Err(ApiError::new(
            "OperationNotPermittedException",
            format!(
                "Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
            ),
        ));
    }
    let listeners: Vec<String> = st
        .listeners
        .values()
        .filter(|l| l.lb_arn == arn)
        .map(|l| l.arn.clone())
        .collect();
    for l in listeners {
        st.remove_listener(&l);
    }
    st.load_balancers.remove(arn);
    st.tags.forget(arn);
    Ok(json!({}))
}

pub fn describe_attributes(st: &Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let arn = params::str_req(input, "LoadBalancerArn")?;
    let lb = st
        .load_balancers
        .get(arn)
        .ok_or_else(|| errors::load_balancer_not_found(arn))?;
    Ok(json!({"Attributes": lb.attributes.to_json()}))
}

pub fn modify_attributes(st: &mut Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let arn = params::str_req(input, "LoadBalancerArn")?;
    let lb = st
        .load_balancers
        .get_mut(arn)
        .ok_or_else(|| errors::load_balancer_not_found(arn))?;
    lb.attributes.modify(input)?;
    Ok(json!({"Attributes": lb.attributes.to_json()}))
}

pub fn set_subnets(st: &mut Elbv2State, key: &RegionKey, input: &Value) -> Result<Value, ApiError> {
    let lb = found_mut(st, input)?;
    let subnets = subnets_of(input);
    if !subnets.is_empty() {
        lb.subnets = subnets;
    }
    if let Some(t) = params::str_opt(input, "IpAddressType") {
        lb.ip_address_type = t.to_string();
    }
    Ok(json!({"AvailabilityZones": lb.zones(key), "IpAddressType": lb.ip_address_type}))
}

pub fn set_security_groups(st: &mut Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let lb = found_mut(st, input)?;
    lb.security_groups = params::strings(input, "SecurityGroups").unwrap_or_default();
    Ok(json!({"SecurityGroupIds": lb.security_groups}))
}

pub fn set_ip_address_type(st: &mut Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let lb = found_mut(st, input)?;
    lb.ip_address_type = params::str_req(input, "IpAddressType")?.to_string();
    Ok(json!({"IpAddressType": lb.ip_address_type}))
}

fn found_mut<'a>(st: &'a mut Elbv2State, input: &Value) -> Result<&'a mut LoadBalancer, ApiError> {
    let arn = params::str_req(input, "LoadBalancerArn")?;
    st.load_balancers
        .get_mut(arn)
        .ok_or_else(|| errors::load_balancer_not_found(arn))
}
