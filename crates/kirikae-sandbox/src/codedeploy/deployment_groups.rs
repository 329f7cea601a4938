//! Deployment groups: for ECS, one CODE_DEPLOY service, a target-group pair and its listeners, the
//! blue/green timing, and the rollback and alarm settings, validated as AWS validates them.

use serde_json::{Value, json};

use super::platform::{Live, Platform};
use super::types::{
    AlarmConfiguration, AutoRollbackConfiguration, BlueGreenDeploymentConfiguration,
    DeploymentStyle, EcsService, LoadBalancerInfo, Tag,
};
use super::{application_name, applications, configs, err, ids, member, opt_str, str_list};
use crate::protocol::ApiError;
use crate::world::Ctx;

#[derive(Clone, Debug)]
pub struct DeploymentGroup {
    pub id: String,
    pub application: String,
    pub name: String,
    pub service_role_arn: String,
    pub deployment_config_name: String,
    pub deployment_style: DeploymentStyle,
    pub blue_green: BlueGreenDeploymentConfiguration,
    pub load_balancer_info: LoadBalancerInfo,
    pub ecs_services: Vec<EcsService>,
    pub auto_rollback: AutoRollbackConfiguration,
    pub alarms: AlarmConfiguration,
    pub triggers: Vec<Value>,
    pub target_revision: Option<Value>,
    pub outdated_instances_strategy: String,
    pub termination_hook_enabled: bool,
    pub tags: Vec<Tag>,
}

impl DeploymentGroup {
    /// The group's one ECS service.
    pub fn service(&self) -> &EcsService {
        &self.ecs_services[0]
    }
}

pub fn not_found(name: &str) -> ApiError {
    err(
        "DeploymentGroupDoesNotExistException",
        format!("No Deployment Group found for name: {name}"),
    )
}

fn group_name<'a>(input: &'a Value, key: &str) -> Result<&'a str, ApiError> {
    opt_str(input, key).ok_or_else(|| {
        err(
            "DeploymentGroupNameRequiredException",
            "The deployment group name was not specified.",
        )
    })
}

/// The group `name` of application `app`, or AWS's exceptions.
pub fn existing<'a>(cx: &'a Ctx, app: &str, name: &str) -> Result<&'a DeploymentGroup, ApiError> {
    applications::existing(cx, app)?;
    cx.region
        .codedeploy
        .groups
        .iter()
        .find(|g| g.application == app && g.name == name)
        .ok_or_else(|| not_found(name))
}

const EC2_ONLY: [&str; 6] = [
    "ec2TagFilters",
    "ec2TagSet",
    "onPremisesInstanceTagFilters",
    "onPremisesTagSet",
    "autoScalingGroups",
    "ec2DeploymentOptions",
];

/// Apply the members present in `input` over `g` (all of them on create).
fn apply_members(g: &mut DeploymentGroup, input: &Value) -> Result<(), ApiError> {
    for key in EC2_ONLY {
        let given = match input.get(key) {
            None | Some(Value::Null) => false,
            Some(Value::Array(a)) => !a.is_empty(),
            Some(Value::Object(o)) => !o.is_empty(),
            Some(_) => true,
        };
        if given {
            return Err(err(
                "InvalidInputException",
                format!(
                    "{key} cannot be specified for a deployment group of the ECS compute platform"
                ),
            ));
        }
    }
    if let Some(r) = opt_str(input, "serviceRoleArn") {
        g.service_role_arn = r.to_string();
    }
    if let Some(c) = opt_str(input, "deploymentConfigName") {
        g.deployment_config_name = c.to_string();
    }
    if let Some(s) = member(input, "deploymentStyle")? {
        g.deployment_style = s;
    }
    if let Some(b) =
        member::<BlueGreenDeploymentConfiguration>(input, "blueGreenDeploymentConfiguration")?
    {
        g.blue_green = b;
    }
    if let Some(l) = member(input, "loadBalancerInfo")? {
        g.load_balancer_info = l;
    }
    if let Some(s) = member(input, "ecsServices")? {
        g.ecs_services = s;
    }
    if let Some(a) = member(input, "autoRollbackConfiguration")? {
        g.auto_rollback = a;
    }
    if let Some(a) = member(input, "alarmConfiguration")? {
        g.alarms = a;
    }
    if let Some(t) = input.get("triggerConfigurations").and_then(Value::as_array) {
        g.triggers = t.clone();
    }
    if let Some(s) = opt_str(input, "outdatedInstancesStrategy") {
        g.outdated_instances_strategy = s.to_string();
    }
    if let Some(b) = input.get("terminationHookEnabled").and_then(Value::as_bool) {
        g.termination_hook_enabled = b;
    }
    Ok(())
}

/// AWS's checks of an ECS deployment group, including that what it names exists. `others` are the
/// region's other groups (a service belongs to one group only). `role_given`: the call names the service
/// role (always on create, when `serviceRoleArn` is given on update), so CodeDeploy assumes it: it must
/// be a role of the caller's account whose trust policy lets CodeDeploy assume it.
fn validate(
    g: &DeploymentGroup,
    p: &mut dyn Platform,
    others: &[&DeploymentGroup],
    role_given: bool,
) -> Result<(), ApiError> {
    let role = &g.service_role_arn;
    if !(role.starts_with("arn:aws") && role.contains(":iam::") && role.contains(":role/")) {
        return Err(err(
            "InvalidRoleException",
            "The service role ARN was specified in an invalid format.",
        ));
    }
    if role_given {
        p.assume_role(role)?;
    }
    let style = &g.deployment_style;
    if style.deployment_type.as_deref() != Some("BLUE_GREEN")
        || style.deployment_option.as_deref() != Some("WITH_TRAFFIC_CONTROL")
    {
        return Err(err(
            "InvalidDeploymentStyleException",
            "An ECS deployment group requires deploymentStyle {deploymentType: BLUE_GREEN, deploymentOption: WITH_TRAFFIC_CONTROL}.",
        ));
    }
    validate_blue_green(&g.blue_green)?;
    validate_rollback(&g.auto_rollback)?;
    validate_alarms(&g.alarms)?;
    if g.triggers.len() > 10 {
        return Err(err(
            "TriggerTargetsLimitExceededException",
            "The maximum allowed number of triggers was exceeded.",
        ));
    }
    validate_load_balancing(&g.load_balancer_info, p)?;
    validate_service(g, p, others)
}

fn validate_blue_green(b: &BlueGreenDeploymentConfiguration) -> Result<(), ApiError> {
    let invalid = |m: &str| err("InvalidBlueGreenDeploymentConfigurationException", m);
    if b.green_fleet_provisioning_option.is_some() {
        return Err(invalid(
            "greenFleetProvisioningOption is not supported for the ECS compute platform.",
        ));
    }
    if !(0..=2880).contains(&b.termination_wait_minutes()) {
        return Err(invalid(
            "terminationWaitTimeInMinutes must be between 0 and 2880 (2 days).",
        ));
    }
    if let Some(w) = b
        .deployment_ready_option
        .as_ref()
        .and_then(|r| r.wait_time_in_minutes)
        && !(0..=2880).contains(&w)
    {
        return Err(invalid(
            "waitTimeInMinutes must be between 0 and 2880 (2 days).",
        ));
    }
    Ok(())
}

fn validate_rollback(a: &AutoRollbackConfiguration) -> Result<(), ApiError> {
    if a.enabled && a.events.is_empty() {
        return Err(err(
            "InvalidAutoRollbackConfigException",
            "At least one rollback event must be specified when automatic rollback is enabled.",
        ));
    }
    Ok(())
}

pub fn validate_alarms(a: &AlarmConfiguration) -> Result<(), ApiError> {
    let invalid = |m: String| err("InvalidAlarmConfigException", m);
    if a.alarms.len() > 10 {
        return Err(err(
            "AlarmsLimitExceededException",
            "The maximum number of alarms for a deployment group (10) was exceeded.",
        ));
    }
    if a.enabled && a.alarms.is_empty() {
        return Err(invalid(
            "The alarm configuration is enabled but contains no alarms.".into(),
        ));
    }
    for (i, alarm) in a.alarms.iter().enumerate() {
        if alarm.name.is_empty() || alarm.name.len() > 255 {
            return Err(invalid(format!(
                "The alarm name '{}' is empty or longer than 255 characters.",
                alarm.name
            )));
        }
        if a.alarms[..i].iter().any(|o| o.name == alarm.name) {
            return Err(invalid(format!(
                "The alarm {} is specified more than once.",
                alarm.name
            )));
        }
    }
    Ok(())
}

fn validate_load_balancing(l: &LoadBalancerInfo, p: &mut dyn Platform) -> Result<(), ApiError> {
    let lb_err = |m: &str| err("InvalidLoadBalancerInfoException", m);
    let pair_err = |m: String| err("InvalidTargetGroupPairException", m);
    if l.elb_info_list.as_ref().is_some_and(|v| !v.is_empty()) {
        return Err(lb_err(
            "For ECS deployment group, loadBalancerInfo must not contain elbInfo list",
        ));
    }
    if l.target_group_info_list
        .as_ref()
        .is_some_and(|v| !v.is_empty())
    {
        return Err(lb_err(
            "For ECS deployment group, loadBalancerInfo must not contain targetGroupInfo list",
        ));
    }
    let pairs = l.target_group_pair_info_list.as_deref().unwrap_or_default();
    if pairs.is_empty() {
        return Err(lb_err(
            "The specification for load balancing in the deployment group is invalid. The deploymentOption value is set to WITH_TRAFFIC_CONTROL, but either no load balancer was specified in elbInfoList or no target group was specified in targetGroupInfoList.",
        ));
    }
    if pairs.len() > 1 {
        return Err(pair_err("For ECS deployment group, exactly one target group pair must be specified in targetGroupPairInfoList.".into()));
    }
    let pair = &pairs[0];
    let names = pair.names();
    if names.len() != 2 || names.iter().any(String::is_empty) {
        return Err(pair_err(
            "A target group pair must contain exactly two target groups, named by name.".into(),
        ));
    }
    if names[0] == names[1] {
        return Err(pair_err(format!(
            "The two target groups of a target group pair must be different; both are {}.",
            names[0]
        )));
    }
    p.target_groups(&names).map_err(|e| {
        pair_err(format!(
            "The target group pair names a target group that does not exist: {}",
            e.message
        ))
    })?;
    let prod = pair
        .prod_traffic_route
        .as_ref()
        .map(|r| r.listener_arns.as_slice())
        .unwrap_or_default();
    // AWS's words (UpdateDeploymentGroup with two production listeners).
    let routing_err = |m: &str| err("InvalidTrafficRoutingConfigurationException", m);
    if prod.len() != 1 {
        return Err(routing_err(
            "Production traffic route must have exactly one listener Arn",
        ));
    }
    let test = pair
        .test_traffic_route
        .as_ref()
        .map(|r| r.listener_arns.as_slice())
        .unwrap_or_default();
    if test.len() > 1 {
        return Err(routing_err(
            "Test traffic route must have at most one listener Arn",
        ));
    }
    if test.first() == prod.first() {
        return Err(pair_err(
            "The production and test traffic routes must use different listeners.".into(),
        ));
    }
    for arn in prod.iter().chain(test) {
        p.listener_actions(arn)
            .map_err(|e| pair_err(format!("Listener {arn} cannot be used: {}", e.message)))?;
    }
    Ok(())
}

fn validate_service(
    g: &DeploymentGroup,
    p: &mut dyn Platform,
    others: &[&DeploymentGroup],
) -> Result<(), ApiError> {
    let invalid = |m: String| err("InvalidECSServiceException", m);
    if g.ecs_services.len() != 1 {
        return Err(invalid(
            "An ECS deployment group must contain exactly one ECS service in ecsServices.".into(),
        ));
    }
    let s = g.service();
    if s.service().is_empty() || s.cluster().is_empty() {
        return Err(invalid(
            "ecsServices entries need both serviceName and clusterName.".into(),
        ));
    }
    let view = p
        .describe_service(s.cluster(), s.service())?
        .filter(|v| v.status == "ACTIVE")
        .ok_or_else(|| {
            invalid(format!(
                "The ECS service {} in cluster {} does not exist or is not ACTIVE.",
                s.service(),
                s.cluster()
            ))
        })?;
    if view.controller() != "CODE_DEPLOY" {
        return Err(invalid("Deployment group's ECS service must be configured for a CODE_DEPLOY deployment controller.".into()));
    }
    if let Some(other) = others.iter().find(|o| {
        o.ecs_services
            .iter()
            .any(|os| os.cluster() == s.cluster() && os.service() == s.service())
    }) {
        return Err(err(
            "ECSServiceMappingLimitExceededException",
            format!(
                "The ECS service {} in cluster {} is already associated with deployment group {} of application {}. An ECS service can only be associated with one deployment group.",
                s.service(),
                s.cluster(),
                other.name,
                other.application
            ),
        ));
    }
    Ok(())
}

/// Check an ECS group against the region's resources (and its account's roles), and every other group.
fn check(cx: &mut Ctx, g: &DeploymentGroup, role_given: bool) -> Result<(), ApiError> {
    configs::ecs_config(cx, &g.deployment_config_name)?;
    // A service named by the ARN of another region or account is not this region's service of the
    // same name: it does not exist here.
    for s in &g.ecs_services {
        for reference in [&s.cluster_name, &s.service_name] {
            if cx.region.key.foreign(reference).is_some() {
                return Err(err(
                    "InvalidECSServiceException",
                    format!(
                        "The ECS service {} in cluster {} does not exist or is not ACTIVE.",
                        s.service_name, s.cluster_name
                    ),
                ));
            }
        }
    }
    let others: Vec<DeploymentGroup> = cx
        .region
        .codedeploy
        .groups
        .iter()
        .filter(|o| o.id != g.id)
        .cloned()
        .collect();
    let refs: Vec<&DeploymentGroup> = others.iter().collect();
    validate(g, &mut Live { cx }, &refs, role_given)
}

pub fn create(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let app_name = application_name(input)?;
    let name = group_name(input, "deploymentGroupName")?;
    let app = applications::existing(cx, app_name)?;
    if app.compute_platform != "ECS" {
        return Err(err(
            "InvalidComputePlatformException",
            format!(
                "Application {app_name} has compute platform {}; the kirikae sandbox emulates deployment groups of the ECS compute platform only.",
                app.compute_platform
            ),
        ));
    }
    if cx
        .region
        .codedeploy
        .groups
        .iter()
        .any(|g| g.application == app_name && g.name == name)
    {
        return Err(err(
            "DeploymentGroupAlreadyExistsException",
            "A deployment group with the specified name with the IAM user or AWS account already exists.",
        ));
    }
    if opt_str(input, "serviceRoleArn").is_none() {
        return Err(err(
            "RoleRequiredException",
            "The role ID was not specified.",
        ));
    }
    let mut g = DeploymentGroup {
        id: ids::uuid(),
        application: app_name.to_string(),
        name: name.to_string(),
        service_role_arn: String::new(),
        deployment_config_name: configs::DEFAULT_ECS.to_string(),
        deployment_style: DeploymentStyle::default(),
        blue_green: BlueGreenDeploymentConfiguration::default(),
        load_balancer_info: LoadBalancerInfo::default(),
        ecs_services: Vec::new(),
        auto_rollback: AutoRollbackConfiguration::default(),
        alarms: AlarmConfiguration::default(),
        triggers: Vec::new(),
        target_revision: None,
        outdated_instances_strategy: "UPDATE".into(),
        termination_hook_enabled: false,
        tags: member(input, "tags")?.unwrap_or_default(),
    };
    apply_members(&mut g, input)?;
    g.blue_green = g.blue_green.normalized();
    check(cx, &g, true)?;
    let id = g.id.clone();
    cx.region.codedeploy.groups.push(g);
    Ok(json!({ "deploymentGroupId": id }))
}

pub fn update(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let app_name = application_name(input)?;
    let current = group_name(input, "currentDeploymentGroupName")?;
    let mut g = existing(cx, app_name, current)?.clone();
    if let Some(new) = opt_str(input, "newDeploymentGroupName").filter(|n| *n != current) {
        if cx
            .region
            .codedeploy
            .groups
            .iter()
            .any(|o| o.application == app_name && o.name == new)
        {
            return Err(err(
                "DeploymentGroupAlreadyExistsException",
                "A deployment group with the specified name with the IAM user or AWS account already exists.",
            ));
        }
        g.name = new.to_string();
    }
    apply_members(&mut g, input)?;
    g.blue_green = g.blue_green.normalized();
    check(cx, &g, opt_str(input, "serviceRoleArn").is_some())?;
    let id = g.id.clone();
    let new_name = g.name.clone();
    if let Some(slot) = cx.region.codedeploy.groups.iter_mut().find(|o| o.id == id) {
        *slot = g;
    }
    // Deployments name their group; keep them pointing at it.
    for d in cx
        .region
        .codedeploy
        .deployments
        .values_mut()
        .filter(|d| d.group_id == id)
    {
        d.group_name = new_name.clone();
    }
    Ok(json!({ "hooksNotCleanedUp": [] }))
}

/// Idempotent, as in AWS (the model has no does-not-exist error for it).
pub fn delete(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let app_name = application_name(input)?;
    let name = group_name(input, "deploymentGroupName")?;
    cx.region
        .codedeploy
        .groups
        .retain(|g| !(g.application == app_name && g.name == name));
    Ok(json!({ "hooksNotCleanedUp": [] }))
}

pub fn get(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let app_name = application_name(input)?;
    let name = group_name(input, "deploymentGroupName")?;
    let g = existing(cx, app_name, name)?;
    Ok(json!({ "deploymentGroupInfo": info(cx, g) }))
}

pub fn batch_get(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let app_name = application_name(input)?;
    applications::existing(cx, app_name)?;
    let names = str_list(input, "deploymentGroupNames");
    if names.is_empty() {
        return Err(err(
            "DeploymentGroupNameRequiredException",
            "The deployment group name was not specified.",
        ));
    }
    if names.len() > 100 {
        return Err(err(
            "BatchLimitExceededException",
            "The maximum number of names or IDs allowed for this request (100) was exceeded.",
        ));
    }
    let mut infos = Vec::new();
    let mut missing = Vec::new();
    for n in &names {
        match existing(cx, app_name, n) {
            Ok(g) => infos.push(info(cx, g)),
            Err(_) => missing.push(n.clone()),
        }
    }
    let mut out = json!({ "deploymentGroupsInfo": infos });
    if !missing.is_empty() {
        out["errorMessage"] = json!(format!(
            "Deployment groups not found for application {app_name}: {}",
            missing.join(", ")
        ));
    }
    Ok(out)
}

pub fn list(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let app_name = application_name(input)?;
    applications::existing(cx, app_name)?;
    let mut names: Vec<String> = cx
        .region
        .codedeploy
        .groups
        .iter()
        .filter(|g| g.application == app_name)
        .map(|g| g.name.clone())
        .collect();
    names.sort();
    let (page, next) = ids::page(&names, ids::next_token(input))?;
    let mut out = json!({ "applicationName": app_name, "deploymentGroups": page });
    if let Some(t) = next {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}

/// `DeploymentGroupInfo` as AWS answers it for an ECS group.
pub fn info(cx: &Ctx, g: &DeploymentGroup) -> Value {
    let mut v = json!({
        "applicationName": g.application,
        "deploymentGroupId": g.id,
        "deploymentGroupName": g.name,
        "deploymentConfigName": g.deployment_config_name,
        "serviceRoleArn": g.service_role_arn,
        "triggerConfigurations": g.triggers,
        "alarmConfiguration": to(&g.alarms),
        "autoRollbackConfiguration": to(&g.auto_rollback),
        "deploymentStyle": to(&g.deployment_style),
        "blueGreenDeploymentConfiguration": to(&g.blue_green),
        "loadBalancerInfo": to(&g.load_balancer_info),
        "ec2TagFilters": [],
        "onPremisesInstanceTagFilters": [],
        "autoScalingGroups": [],
        "computePlatform": "ECS",
        "ecsServices": to(&g.ecs_services),
        "outdatedInstancesStrategy": g.outdated_instances_strategy,
        "terminationHookEnabled": g.termination_hook_enabled,
    });
    if let Some(r) = &g.target_revision {
        v["targetRevision"] = r.clone();
    }
    let mine: Vec<_> = cx
        .region
        .codedeploy
        .deployments
        .values()
        .filter(|d| d.group_id == g.id)
        .collect();
    let last = |pred: &dyn Fn(&&super::lifecycle::Deployment) -> bool| {
        mine.iter()
            .filter(|d| pred(d))
            .max_by(|a, b| a.create_time.total_cmp(&b.create_time))
            .map(|d| d.last_info())
    };
    if let Some(a) = last(&|_| true) {
        v["lastAttemptedDeployment"] = a;
    }
    if let Some(s) = last(&|d| d.status == super::lifecycle::Status::Succeeded) {
        v["lastSuccessfulDeployment"] = s;
    }
    v
}

/// A model structure as JSON.
pub fn to<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("model structures serialize")
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakePlatform;
    use super::*;

    fn group() -> DeploymentGroup {
        let mut g = DeploymentGroup {
            id: "g1".into(),
            application: "app".into(),
            name: "dg".into(),
            service_role_arn: "arn:aws:iam::000000000000:role/ecsCodeDeployRole".into(),
            deployment_config_name: configs::DEFAULT_ECS.into(),
            deployment_style: DeploymentStyle::default(),
            blue_green: Default::default(),
            load_balancer_info: Default::default(),
            ecs_services: vec![],
            auto_rollback: Default::default(),
            alarms: Default::default(),
            triggers: vec![],
            target_revision: None,
            outdated_instances_strategy: "UPDATE".into(),
            termination_hook_enabled: false,
            tags: vec![],
        };
        apply_members(
            &mut g,
            &json!({
                "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
                "loadBalancerInfo": {"targetGroupPairInfoList": [{
                    "targetGroups": [{"name": "blue"}, {"name": "green"}],
                    "prodTrafficRoute": {"listenerArns": ["prod"]},
                    "testTrafficRoute": {"listenerArns": ["test"]}}]},
                "ecsServices": [{"clusterName": "demo", "serviceName": "web"}],
            }),
        )
        .unwrap();
        g.blue_green = g.blue_green.normalized();
        g
    }

    fn code(g: &DeploymentGroup, p: &mut FakePlatform, others: &[&DeploymentGroup]) -> String {
        validate(g, p, others, true)
            .err()
            .map(|e| e.code)
            .unwrap_or_default()
    }

    #[test]
    fn a_complete_ecs_group_is_valid() {
        let mut p = FakePlatform::standard();
        validate(&group(), &mut p, &[], true).unwrap();
    }

    #[test]
    fn normalized_blue_green_always_reports_both_wait_times() {
        let v = serde_json::to_value(group().blue_green).unwrap();
        assert_eq!(v["deploymentReadyOption"]["waitTimeInMinutes"], 0);
        assert_eq!(
            v["terminateBlueInstancesOnDeploymentSuccess"]["terminationWaitTimeInMinutes"],
            0
        );
        assert_eq!(
            v["terminateBlueInstancesOnDeploymentSuccess"]["action"],
            "TERMINATE"
        );
    }

    #[test]
    fn wrong_groups_get_aws_exceptions() {
        let mut p = FakePlatform::standard();
        let mut g = group();
        g.deployment_style.deployment_type = Some("IN_PLACE".into());
        assert_eq!(code(&g, &mut p, &[]), "InvalidDeploymentStyleException");

        let mut g = group();
        g.service_role_arn = "cd-role".into();
        assert_eq!(code(&g, &mut p, &[]), "InvalidRoleException");

        let mut g = group();
        g.load_balancer_info
            .target_group_pair_info_list
            .as_mut()
            .unwrap()[0]
            .target_groups
            .pop();
        assert_eq!(code(&g, &mut p, &[]), "InvalidTargetGroupPairException");

        let mut g = group();
        g.load_balancer_info
            .target_group_pair_info_list
            .as_mut()
            .unwrap()[0]
            .target_groups[1]
            .name = Some("nope".into());
        assert_eq!(code(&g, &mut p, &[]), "InvalidTargetGroupPairException");

        let mut g = group();
        g.load_balancer_info
            .target_group_pair_info_list
            .as_mut()
            .unwrap()[0]
            .prod_traffic_route
            .as_mut()
            .unwrap()
            .listener_arns
            .push("test".into());
        let e = validate(&g, &mut p, &[], true).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            (
                "InvalidTrafficRoutingConfigurationException",
                "Production traffic route must have exactly one listener Arn"
            )
        );
        let mut g = group();
        g.load_balancer_info
            .target_group_pair_info_list
            .as_mut()
            .unwrap()[0]
            .prod_traffic_route = None;
        assert_eq!(
            code(&g, &mut p, &[]),
            "InvalidTrafficRoutingConfigurationException"
        );

        let mut g = group();
        g.load_balancer_info.elb_info_list = Some(vec![json!({"name": "x"})]);
        assert_eq!(code(&g, &mut p, &[]), "InvalidLoadBalancerInfoException");

        let mut g = group();
        g.load_balancer_info = LoadBalancerInfo::default();
        assert_eq!(code(&g, &mut p, &[]), "InvalidLoadBalancerInfoException");

        let mut g = group();
        g.ecs_services[0].service_name = "missing".into();
        assert_eq!(code(&g, &mut p, &[]), "InvalidECSServiceException");

        let mut g = group();
        g.blue_green
            .terminate_blue_instances_on_deployment_success
            .as_mut()
            .unwrap()
            .termination_wait_time_in_minutes = Some(2881);
        assert_eq!(
            code(&g, &mut p, &[]),
            "InvalidBlueGreenDeploymentConfigurationException"
        );

        let mut g = group();
        g.auto_rollback.enabled = true;
        assert_eq!(code(&g, &mut p, &[]), "InvalidAutoRollbackConfigException");

        let mut g = group();
        g.alarms.enabled = true;
        assert_eq!(code(&g, &mut p, &[]), "InvalidAlarmConfigException");

        let other = DeploymentGroup {
            id: "g2".into(),
            name: "other".into(),
            ..group()
        };
        assert_eq!(
            code(&group(), &mut p, &[&other]),
            "ECSServiceMappingLimitExceededException"
        );

        p.controller = "ECS".into();
        assert_eq!(code(&group(), &mut p, &[]), "InvalidECSServiceException");
    }

    #[test]
    fn the_service_role_must_exist_in_the_account_and_trust_codedeploy() {
        let mut p = FakePlatform::standard();
        let with_role = |name: &str| DeploymentGroup {
            service_role_arn: format!("arn:aws:iam::000000000000:role/{name}"),
            ..group()
        };
        let message = |g: &DeploymentGroup, p: &mut FakePlatform| {
            let e = validate(g, p, &[], true).unwrap_err();
            assert_eq!(e.code, "InvalidRoleException");
            e.message
        };
        let m = message(&with_role("missing"), &mut p);
        assert!(m.starts_with("Cannot assume role provided."), "{m}");
        // The task execution role trusts ecs-tasks.amazonaws.com only.
        let m = message(&with_role("ecsTaskExecutionRole"), &mut p);
        assert!(m.contains("does not allow codedeploy.amazonaws.com"), "{m}");
        let other = DeploymentGroup {
            service_role_arn: "arn:aws:iam::123456789012:role/ecsCodeDeployRole".into(),
            ..group()
        };
        let m = message(&other, &mut p);
        assert!(
            m.starts_with("Cross-account pass role is not allowed."),
            "{m}"
        );
        // An update that does not name the role does not assume it again.
        validate(&with_role("missing"), &mut p, &[], false).unwrap();

        let trust = crate::iam::policy::trust_document("codedeploy.amazonaws.com");
        crate::iam::handle(
            &mut p.iam,
            0.0,
            "CreateRole",
            &json!({"RoleName": "mine", "Path": "/cd/", "AssumeRolePolicyDocument": trust}),
        )
        .unwrap();
        validate(&with_role("cd/mine"), &mut p, &[], true).unwrap();
    }

    #[test]
    fn services_may_be_named_by_arn() {
        let mut p = FakePlatform::standard();
        let mut g = group();
        g.ecs_services[0] = EcsService {
            service_name: "arn:aws:ecs:us-east-1:000000000000:service/demo/web".into(),
            cluster_name: "arn:aws:ecs:us-east-1:000000000000:cluster/demo".into(),
        };
        validate(&g, &mut p, &[], true).unwrap();
    }
}
