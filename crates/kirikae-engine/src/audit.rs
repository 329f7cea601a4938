//! Who started a deployment and from where, recorded in AWS itself so that anyone with read access to
//! the group (`kirikae history`, the console, `aws deploy get-deployment`) sees it.
//!
//! CreateDeployment takes no tags, so the record goes into the deployment's description, after the run
//! marker, as `[kirikae audit {…JSON…}]`: the IAM caller identity (STS GetCallerIdentity, which needs
//! no permission), kirikae's version, and the CI context when there is one (repository, commit, run URL
//! from GitHub Actions, GitLab CI, CircleCI, Jenkins/Buildkite-style variables) or else the user and
//! host. Only these named variables are read, never credentials; a URL's `user:password@` part is
//! dropped.
//!
//! **On the ECS controller** a service deployment has no description and takes no tags (ECS tags
//! clusters, services, tasks, task definitions, capacity providers and container instances only), so
//! the record is a tag on the **service**, one per service deployment, keyed by its id
//! ([`ServiceTag`]): `kirikae:deployment/<id>` = `at=<s> run=<run id> kirikae=<version> by=<caller>
//! [actor=<CI user>] from=<where>`, within ECS's tag limits (key ≤ 128, value ≤ 256 characters of
//! `[\p{L}\p{Z}\p{N}_.:/=+\-@]`; others become `_`, the tail of `from` is cut first). It stays true per
//! deployment (never overwritten), a person reads it with `aws ecs list-tags-for-resource
//! --resource-arn <service ARN>`, and only the newest [`ServiceTag::KEEP`] are kept, so the service's
//! 50-tag limit is never reached by kirikae.

use serde::{Deserialize, Serialize};

use crate::connection::Clients;
use crate::error::Error;

/// The marker that opens the record inside a description.
const MARKER: &str = "[kirikae audit ";
/// Longest value kept per field, so a description stays small whatever the environment holds.
const FIELD_MAX: usize = 300;

/// Who and from where.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The IAM caller identity's ARN (None when STS could not be asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// kirikae's version.
    #[serde(default)]
    pub version: String,
    /// The CI system (`github-actions`, `gitlab`, `circleci`, `ci`), when run by one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<String>,
    /// The CI's user who triggered the run (e.g. GITHUB_ACTOR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    /// Outside CI: the local user and host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The task definition the service ran when this deployment was created: what `kirikae rollback`
    /// deploys again once it has finished, even when no deployment of the group brought it (the
    /// service was created with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

impl Record {
    /// This run's record: the caller identity from STS (one call; without an answer the record says
    /// so rather than stop the deploy) and the environment.
    pub async fn gather(aws: &Clients) -> Record {
        let mut record = Record::from_env(|k| std::env::var(k).ok());
        match aws.sts.get_caller_identity().send().await {
            Ok(out) => record.by = out.arn().map(str::to_string),
            Err(e) => tracing::warn!(
                "could not ask STS who the caller is; the deployment records no caller: {}",
                crate::aws::failed("sts:GetCallerIdentity", e)
            ),
        }
        record
    }

    /// The record from environment variables (`var` reads one), without the caller identity.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Record {
        let get = |k: &str| {
            var(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut r = Record {
            version: env!("CARGO_PKG_VERSION").to_string(),
            ..Record::default()
        };
        if get("GITHUB_ACTIONS").as_deref() == Some("true") {
            r.ci = Some("github-actions".into());
            r.repository = get("GITHUB_REPOSITORY");
            r.commit = get("GITHUB_SHA");
            r.actor = get("GITHUB_ACTOR");
            if let (Some(server), Some(repo), Some(run)) = (
                get("GITHUB_SERVER_URL"),
                get("GITHUB_REPOSITORY"),
                get("GITHUB_RUN_ID"),
            ) {
                let mut url = format!("{}/{repo}/actions/runs/{run}", server.trim_end_matches('/'));
                if let Some(attempt) = get("GITHUB_RUN_ATTEMPT").filter(|a| a != "1") {
                    url.push_str(&format!("/attempts/{attempt}"));
                }
                r.run_url = Some(url);
            }
        } else if get("GITLAB_CI").as_deref() == Some("true") {
            r.ci = Some("gitlab".into());
            r.repository = get("CI_PROJECT_PATH");
            r.commit = get("CI_COMMIT_SHA");
            r.actor = get("GITLAB_USER_LOGIN");
            r.run_url = get("CI_JOB_URL").or_else(|| get("CI_PIPELINE_URL"));
        } else if get("CIRCLECI").as_deref() == Some("true") {
            r.ci = Some("circleci".into());
            r.repository = get("CIRCLE_REPOSITORY_URL").or_else(|| {
                match (
                    get("CIRCLE_PROJECT_USERNAME"),
                    get("CIRCLE_PROJECT_REPONAME"),
                ) {
                    (Some(o), Some(n)) => Some(format!("{o}/{n}")),
                    _ => None,
                }
            });
            r.commit = get("CIRCLE_SHA1");
            r.actor = get("CIRCLE_USERNAME");
            r.run_url = get("CIRCLE_BUILD_URL");
        } else if get("CI").is_some_and(|v| v != "false" && v != "0") {
            // Jenkins, Buildkite and others: the variables most of them set.
            r.ci = Some("ci".into());
            r.repository = get("BUILDKITE_REPO").or_else(|| get("GIT_URL"));
            r.commit = get("BUILDKITE_COMMIT").or_else(|| get("GIT_COMMIT"));
            r.run_url = get("BUILDKITE_BUILD_URL").or_else(|| get("BUILD_URL"));
        }
        if r.ci.is_none() {
            r.user = get("USER").or_else(|| get("USERNAME"));
            r.host = get("HOSTNAME").or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|h| h.trim().to_string())
                    .filter(|h| !h.is_empty())
            });
        }
        r.clean()
    }

    /// Bounded fields, URLs without credentials.
    fn clean(mut self) -> Record {
        for f in [
            &mut self.by,
            &mut self.ci,
            &mut self.actor,
            &mut self.repository,
            &mut self.commit,
            &mut self.run_url,
            &mut self.user,
            &mut self.host,
        ] {
            if let Some(v) = f.take() {
                *f = Some(bounded(&without_userinfo(&v)));
            }
        }
        self
    }

    /// Who, said for a person: the caller identity, and the CI's user when known.
    pub fn who(&self) -> String {
        let by = self.by.as_deref().unwrap_or("unknown caller");
        match &self.actor {
            Some(actor) => format!("{by} ({actor})"),
            None => by.to_string(),
        }
    }

    /// From where, said for a person: `repo@commit run-url`, or `user@host`.
    pub fn from_where(&self) -> String {
        let mut parts = Vec::new();
        match (&self.repository, &self.commit) {
            (Some(repo), Some(c)) => parts.push(format!("{repo}@{}", short_commit(c))),
            (Some(repo), None) => parts.push(repo.clone()),
            (None, Some(c)) => parts.push(short_commit(c).to_string()),
            (None, None) => {}
        }
        if let Some(url) = &self.run_url {
            parts.push(url.clone());
        }
        if parts.is_empty() {
            match (&self.user, &self.host) {
                (Some(u), Some(h)) => parts.push(format!("{u}@{h}")),
                (Some(u), None) => parts.push(u.clone()),
                (None, Some(h)) => parts.push(h.clone()),
                (None, None) => parts.push("unknown".into()),
            }
        }
        parts.join(" ")
    }

    /// The record as it is written into a description.
    pub fn marker(&self) -> String {
        format!(
            "{MARKER}{}]",
            serde_json::to_string(self).expect("a record serialises")
        )
    }

    /// The record a description carries, if it has one.
    pub fn parse(description: &str) -> Option<Record> {
        let start = description.find(MARKER)? + MARKER.len();
        serde_json::Deserializer::from_str(&description[start..])
            .into_iter::<Record>()
            .next()?
            .ok()
    }
}

/// The record of one service deployment, as a tag on its service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTag {
    /// The service deployment's id (the last part of its ARN).
    pub deployment_id: String,
    /// When it was written (epoch seconds): the newest are kept.
    pub at: u64,
    pub run_id: String,
    pub version: String,
    /// The IAM caller, as the tag could hold it.
    pub by: String,
    /// The CI's user who triggered the run.
    pub actor: Option<String>,
    /// [`Record::from_where`], as the tag could hold it.
    pub from: String,
}

impl ServiceTag {
    /// The key prefix of every record.
    pub const PREFIX: &str = "kirikae:deployment/";
    /// How many records a service keeps (its newest deployments').
    pub const KEEP: usize = 10;
    const VALUE_MAX: usize = 256;

    pub fn new(deployment_arn: &str, at: u64, run_id: &str, record: &Record) -> ServiceTag {
        ServiceTag {
            deployment_id: deployment_id(deployment_arn).to_string(),
            at,
            run_id: run_id.to_string(),
            version: record.version.clone(),
            by: record.by.clone().unwrap_or_else(|| "unknown caller".into()),
            actor: record.actor.clone(),
            from: record.from_where(),
        }
    }

    /// Who, said as [`Record::who`] says it: the caller, and the CI's user when known.
    pub fn who(&self) -> String {
        match &self.actor {
            Some(actor) => format!("{} ({actor})", self.by),
            None => self.by.clone(),
        }
    }

    pub fn key(&self) -> String {
        format!("{}{}", Self::PREFIX, self.deployment_id)
    }

    /// The value, in what ECS accepts (no parentheses: the actor has a field of its own); the short
    /// fields first, so a cut only shortens `from`.
    pub fn value(&self) -> String {
        let actor = self
            .actor
            .as_ref()
            .map(|a| format!(" actor={a}"))
            .unwrap_or_default();
        format!(
            "at={} run={} kirikae={} by={}{actor} from={}",
            self.at, self.run_id, self.version, self.by, self.from
        )
        .chars()
        .map(|c| if tag_char(c) { c } else { '_' })
        .take(Self::VALUE_MAX)
        .collect()
    }

    /// A record read back from a service's tag; `None` for any other tag.
    pub fn parse(key: &str, value: &str) -> Option<ServiceTag> {
        let deployment_id = key.strip_prefix(Self::PREFIX)?.to_string();
        let rest = value.strip_prefix("at=")?;
        let (at, rest) = rest.split_once(" run=")?;
        let (run_id, rest) = rest.split_once(" kirikae=")?;
        let (version, rest) = rest.split_once(" by=")?;
        let (who, from) = rest.split_once(" from=").unwrap_or((rest, "unknown"));
        let (by, actor) = match who.split_once(" actor=") {
            Some((by, actor)) => (by, Some(actor.to_string())),
            None => (who, None),
        };
        Some(ServiceTag {
            deployment_id,
            at: at.parse().ok()?,
            run_id: run_id.to_string(),
            version: version.to_string(),
            by: by.to_string(),
            actor,
            from: from.to_string(),
        })
    }
}

/// The records on a service (ListTagsForResource), in no order.
pub async fn service_tags(aws: &Clients, service_arn: &str) -> Result<Vec<ServiceTag>, Error> {
    let out = aws
        .ecs
        .list_tags_for_resource()
        .resource_arn(service_arn)
        .send()
        .await
        .map_err(|e| crate::aws::failed("ecs:ListTagsForResource", e))?;
    Ok(out
        .tags()
        .iter()
        .filter_map(|t| ServiceTag::parse(t.key()?, t.value().unwrap_or_default()))
        .collect())
}

/// Writes `tag` on the service, first removing the oldest records beyond [`ServiceTag::KEEP`] (so
/// kirikae never fills the service's 50 tags).
pub async fn write_service_tag(
    aws: &Clients,
    service_arn: &str,
    tag: &ServiceTag,
) -> Result<(), Error> {
    let mut kept = service_tags(aws, service_arn).await?;
    kept.retain(|t| t.deployment_id != tag.deployment_id);
    kept.sort_by(|a, b| {
        b.at.cmp(&a.at)
            .then_with(|| b.deployment_id.cmp(&a.deployment_id))
    });
    let old: Vec<String> = kept
        .iter()
        .skip(ServiceTag::KEEP - 1)
        .map(ServiceTag::key)
        .collect();
    if !old.is_empty() {
        aws.ecs
            .untag_resource()
            .resource_arn(service_arn)
            .set_tag_keys(Some(old))
            .send()
            .await
            .map_err(|e| crate::aws::failed("ecs:UntagResource", e))?;
    }
    aws.ecs
        .tag_resource()
        .resource_arn(service_arn)
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key(tag.key())
                .value(tag.value())
                .build(),
        )
        .send()
        .await
        .map_err(|e| crate::aws::failed("ecs:TagResource", e))?;
    Ok(())
}

/// The id of a service deployment ARN (`…:service-deployment/cluster/service/ID`).
pub fn deployment_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// A character ECS allows in a tag (model: `TagValue` pattern).
fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c)
}

fn short_commit(c: &str) -> &str {
    if c.len() > 12 && c.is_ascii() {
        &c[..12]
    } else {
        c
    }
}

fn bounded(v: &str) -> String {
    if v.len() <= FIELD_MAX {
        return v.to_string();
    }
    let mut cut = FIELD_MAX;
    while !v.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &v[..cut])
}

/// `https://user:token@host/path` → `https://host/path` (a CI may put a token in a clone URL).
fn without_userinfo(v: &str) -> String {
    let Some((scheme, rest)) = v.split_once("://") else {
        return v.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn github_actions_gives_repository_commit_and_run_url() {
        let r = Record::from_env(env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/web"),
            ("GITHUB_SHA", "0123456789abcdef0123"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            ("GITHUB_ACTOR", "octocat"),
            ("USER", "runner"),
        ]));
        assert_eq!(r.ci.as_deref(), Some("github-actions"));
        assert_eq!(
            r.run_url.as_deref(),
            Some("https://github.com/acme/web/actions/runs/42/attempts/2")
        );
        assert_eq!(r.user, None, "the runner's user says nothing in CI");
        assert_eq!(
            r.from_where(),
            "acme/web@0123456789ab https://github.com/acme/web/actions/runs/42/attempts/2"
        );
    }

    #[test]
    fn gitlab_and_generic_ci_and_a_workstation() {
        let r = Record::from_env(env(&[
            ("GITLAB_CI", "true"),
            ("CI_PROJECT_PATH", "acme/web"),
            ("CI_COMMIT_SHA", "abc"),
            ("CI_JOB_URL", "https://gitlab.example/acme/web/-/jobs/7"),
        ]));
        assert_eq!(
            r.from_where(),
            "acme/web@abc https://gitlab.example/acme/web/-/jobs/7"
        );
        let r = Record::from_env(env(&[
            ("CI", "true"),
            ("GIT_URL", "https://bot:s3cret@git.example/acme/web.git"),
            ("BUILD_URL", "https://jenkins.example/job/web/9/"),
        ]));
        assert_eq!(
            r.repository.as_deref(),
            Some("https://git.example/acme/web.git")
        );
        let r = Record::from_env(env(&[("USER", "ana"), ("HOSTNAME", "laptop")]));
        assert_eq!(r.from_where(), "ana@laptop");
    }

    #[test]
    fn a_service_tag_is_what_ecs_accepts_and_reads_back() {
        let mut r = Record::from_env(env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/web"),
            ("GITHUB_SHA", "0123456789abcdef"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_ACTOR", "octocat"),
        ]));
        r.by = Some("arn:aws:sts::123456789012:assumed-role/deploy/gha".into());
        let arn = "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/web/Ab3dEf";
        let t = ServiceTag::new(arn, 1_700_000_000, "0f8e", &r);
        assert_eq!(t.key(), "kirikae:deployment/Ab3dEf");
        let v = t.value();
        assert!(v.len() <= 256 && v.chars().all(tag_char), "{v}");
        let back = ServiceTag::parse(&t.key(), &v).expect("parses");
        assert_eq!(
            back.who(),
            "arn:aws:sts::123456789012:assumed-role/deploy/gha (octocat)"
        );
        assert_eq!(
            back.from,
            "acme/web@0123456789ab https://github.com/acme/web/actions/runs/42"
        );
        assert_eq!((back.at, back.run_id.as_str()), (1_700_000_000, "0f8e"));
        // A long origin is cut, never the fields before it.
        r.run_url = Some(format!("https://ci.example/{}", "x".repeat(400)));
        let v = ServiceTag::new(arn, 1, "0f8e", &r).value();
        assert_eq!(v.chars().count(), 256);
        assert_eq!(
            ServiceTag::parse("kirikae:deployment/x", &v)
                .unwrap()
                .run_id,
            "0f8e"
        );
        assert_eq!(ServiceTag::parse("team", "at=1 run=2"), None);
    }

    #[test]
    fn a_record_survives_the_description_it_is_written_into() {
        let mut r = Record::from_env(env(&[("USER", "ana"), ("HOSTNAME", "laptop")]));
        r.by = Some("arn:aws:iam::123456789012:role/deployer".into());
        let description = format!("kirikae deploy: web=x:1 [kirikae run 0f8e] {}", r.marker());
        assert_eq!(Record::parse(&description), Some(r));
        assert_eq!(Record::parse("deployed by hand"), None);
        assert_eq!(Record::parse("[kirikae audit {not json]"), None);
    }
}
