//! Listener rules: conditions and actions evaluated by priority before the listener's default rule.

use serde_json::{Value, json};

use super::actions::{self, Action};
use super::conditions::{self, Condition};
use super::listeners::Listener;
use super::{Elbv2State, arns, errors, params, tags};
use crate::protocol::ApiError;

pub struct Rule {
    pub arn: String,
    pub listener_arn: String,
    pub priority: i64,
    pub conditions: Vec<Condition>,
    pub actions: Vec<Action>,
}

impl Rule {
    pub fn to_json(&self) -> Value {
        json!({
            "RuleArn": self.arn,
            "Priority": self.priority.to_string(),
            "Conditions": self.conditions.iter().map(Condition::to_json).collect::<Vec<_>>(),
            "Actions": actions::to_json(&self.actions),
            "IsDefault": false,
        })
    }
}

/// The default rule, as `DescribeRules` shows it.
fn default_rule_json(l: &Listener) -> Value {
    json!({
        "RuleArn": l.default_rule_arn,
        "Priority": "default",
        "Conditions": [],
        "Actions": actions::to_json(&l.default_actions),
        "IsDefault": true,
    })
}

fn priority_in_use(priority: i64) -> ApiError {
    ApiError::new(
        "PriorityInUseException",
        format!("Priority '{priority}' is currently in use"),
    )
}

fn parse_conditions(input: &Value) -> Result<Vec<Condition>, ApiError> {
    let parsed = conditions::parse(input.get("Conditions"))?;
    if parsed.is_empty() {
        return Err(errors::validation(
            "A rule must have at least one condition",
        ));
    }
    Ok(parsed)
}

/// A listener's rules in evaluation order (lowest priority number first).
pub fn of_listener<'a>(st: &'a Elbv2State, listener_arn: &str) -> Vec<&'a Rule> {
    let mut rules: Vec<&Rule> = st
        .rules
        .values()
        .filter(|r| r.listener_arn == listener_arn)
        .collect();
    rules.sort_by_key(|r| r.priority);
    rules
}

pub fn create(st: &mut Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let listener_arn = params::str_req(input, "ListenerArn")?;
    let listener = st
        .listeners
        .get(listener_arn)
        .ok_or_else(errors::listeners_not_found)?;
    let priority = params::i64_opt(input, "Priority").unwrap_or_default();
    let conditions = parse_conditions(input)?;
    let actions = actions::parse(input.get("Actions"), |a| st.target_groups.contains_key(a))?;
    if of_listener(st, listener_arn)
        .iter()
        .any(|r| r.priority == priority)
    {
        return Err(priority_in_use(priority));
    }
    st.check_association(&listener.lb_arn, &actions)?;
    let new_tags = tags::from_input(input)?;
    let rule = Rule {
        arn: arns::rule(listener_arn),
        listener_arn: listener_arn.to_string(),
        priority,
        conditions,
        actions,
    };
    st.tags.add(&rule.arn, new_tags)?;
    let out = json!({"Rules": [rule.to_json()]});
    st.rules.insert(rule.arn.clone(), rule);
    Ok(out)
}

pub fn describe(st: &Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let items: Vec<Value> = if let Some(arns) = params::strings(input, "RuleArns") {
        let mut out = Vec::new();
        for arn in &arns {
            if let Some(r) = st.rules.get(arn) {
                out.push(r.to_json());
            } else if let Some(l) = st.listeners.values().find(|l| l.default_rule_arn == *arn) {
                out.push(default_rule_json(l));
            } else {
                return Err(errors::rules_not_found());
            }
        }
        out
    } else if let Some(listener_arn) = params::str_opt(input, "ListenerArn") {
        let listener = st
            .listeners
            .get(listener_arn)
            .ok_or_else(errors::listeners_not_found)?;
        let mut out: Vec<Value> = of_listener(st, listener_arn)
            .iter()
            .map(|r| r.to_json())
            .collect();
        out.push(default_rule_json(listener));
        out
    } else {
        return Err(errors::validation(
            "You must specify either listener ARNs or rule ARNs",
        ));
    };
    let (page, next) = params::page(items, input)?;
    let mut out = json!({"Rules": page});
    if let Some(m) = next {
        out["NextMarker"] = json!(m);
    }
    Ok(out)
}

/// Replaces the conditions and/or actions given. On the default rule only the actions can change (they
/// are the listener's default actions).
pub fn modify(st: &mut Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let arn = params::str_req(input, "RuleArn")?;
    let listener_arn = match st.rules.get(arn) {
        Some(r) => r.listener_arn.clone(),
        None => st
            .listeners
            .values()
            .find(|l| l.default_rule_arn == arn)
            .map(|l| l.arn.clone())
            .ok_or_else(errors::rules_not_found)?,
    };
    let lb_arn = st
        .listeners
        .get(&listener_arn)
        .map(|l| l.lb_arn.clone())
        .ok_or_else(errors::rules_not_found)?;
    let is_default = !st.rules.contains_key(arn);
    let conditions = match input.get("Conditions") {
        Some(_) if is_default => {
            return Err(ApiError::new(
                "OperationNotPermittedException",
                "The conditions of a default rule cannot be modified",
            ));
        }
        Some(_) => Some(parse_conditions(input)?),
        None => None,
    };
    let actions = match input.get("Actions") {
        Some(list) => {
            let parsed = actions::parse(Some(list), |a| st.target_groups.contains_key(a))?;
            st.check_association(&lb_arn, &parsed)?;
            Some(parsed)
        }
        None => None,
    };
    if is_default {
        let listener = st
            .listeners
            .get_mut(&listener_arn)
            .ok_or_else(errors::rules_not_found)?;
        if let Some(a) = actions {
            listener.default_actions = a;
        }
        return Ok(json!({"Rules": [default_rule_json(listener)]}));
    }
    let rule = st.rules.get_mut(arn).ok_or_else(errors::rules_not_found)?;
    if let Some(c) = conditions {
        rule.conditions = c;
    }
    if let Some(a) = actions {
        rule.actions = a;
    }
    Ok(json!({"Rules": [rule.to_json()]}))
}

pub fn delete(st: &mut Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let arn = params::str_req(input, "RuleArn")?;
    if st.listeners.values().any(|l| l.default_rule_arn == arn) {
        return Err(ApiError::new(
            "OperationNotPermittedException",
            format!("Default rule '{arn}' cannot be deleted"),
        ));
    }
    if st.rules.remove(arn).is_none() {
        return Err(errors::rules_not_found());
    }
    st.tags.forget(arn);
    Ok(json!({}))
}

/// Reorders rules; all changes apply together or none does.
pub fn set_priorities(st: &mut Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let mut changes: Vec<(String, i64)> = Vec::new();
    for pair in input
        .get("RulePriorities")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let arn = params::str_opt(pair, "RuleArn").unwrap_or_default();
        if st.listeners.values().any(|l| l.default_rule_arn == arn) {
            return Err(ApiError::new(
                "OperationNotPermittedException",
                format!("The priority of default rule '{arn}' cannot be changed"),
            ));
        }
        if !st.rules.contains_key(arn) {
            return Err(errors::rules_not_found());
        }
        changes.push((
            arn.to_string(),
            params::i64_opt(pair, "Priority").unwrap_or_default(),
        ));
    }
    // The priorities every rule would have afterwards must stay unique per listener.
    let after = |r: &Rule| {
        changes
            .iter()
            .find(|(a, _)| *a == r.arn)
            .map_or(r.priority, |(_, p)| *p)
    };
    let mut seen = std::collections::HashSet::new();
    for r in st.rules.values() {
        if !seen.insert((r.listener_arn.as_str(), after(r))) {
            return Err(priority_in_use(after(r)));
        }
    }
    let mut out = Vec::new();
    for (arn, priority) in &changes {
        if let Some(r) = st.rules.get_mut(arn) {
            r.priority = *priority;
            out.push(r.to_json());
        }
    }
    Ok(json!({"Rules": out}))
}
