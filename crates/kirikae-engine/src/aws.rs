//! Turning SDK errors into the engine's, by their modeled error code (never by message text).

use std::error::Error as StdError;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_codedeploy::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::error::Error;

/// The modeled error code AWS sent, if the call reached AWS and it answered with one.
pub fn code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(s) => s.err().code(),
        _ => None,
    }
}

/// Throttling codes across the services kirikae calls (AWS uses several spellings).
pub fn is_throttling(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ThrottlingException"
                | "Throttling"
                | "ThrottledException"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "RequestThrottled"
                | "RequestThrottledException"
                | "SlowDown"
        )
    )
}

/// An engine error for a failed call, with a hint for the usual causes.
pub fn failed<E, R>(operation: &'static str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = code(&err).map(str::to_string);
    let (message, hint) = match &err {
        SdkError::ServiceError(s) => {
            let e = s.err();
            let msg = match (e.code(), e.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.to_string(),
                _ => DisplayErrorContext(&err).to_string(),
            };
            let hint = match e.code() {
                Some("AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation") => {
                    Some("the credentials in use lack a permission for this call".to_string())
                }
                Some("UnrecognizedClientException" | "InvalidSignatureException" | "ExpiredTokenException") => {
                    Some("check your AWS credentials (profile, SSO session, environment)".to_string())
                }
                _ => None,
            };
            (msg, hint)
        }
        SdkError::DispatchFailure(_) if caused_by_credentials(&err) => (
            chain(&err),
            Some("no usable AWS credentials: kirikae uses the standard chain (environment, --profile / AWS_PROFILE incl. SSO, web identity, container, instance metadata)".into()),
        ),
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => (
            chain(&err),
            Some("could not reach AWS: check the network, the region, and --endpoint-url / AWS_ENDPOINT_URL".into()),
        ),
        SdkError::ConstructionFailure(_) => (
            DisplayErrorContext(&err).to_string(),
            Some("no usable AWS credentials? kirikae uses the standard chain: environment, --profile / AWS_PROFILE (incl. SSO), web identity, container, instance metadata".into()),
        ),
        _ => (DisplayErrorContext(&err).to_string(), None),
    };
    Error::Aws {
        operation,
        code,
        message,
        hint,
    }
}

/// Whether a failed call can heal by itself if asked again later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Healing {
    /// AWS throttled it: ask again, more slowly.
    Throttled,
    /// The network, a timeout, or a 5xx: AWS may not even have seen it; ask again.
    Transient,
    /// Asking again gives the same answer: credentials expired or invalid, access denied, a bad request.
    Permanent,
}

/// A failed call, classified for someone who must decide whether to keep watching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFailure {
    pub operation: &'static str,
    pub healing: Healing,
    pub code: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl CallFailure {
    /// The same failure as an engine error.
    pub fn into_error(self) -> Error {
        Error::Aws {
            operation: self.operation,
            code: self.code,
            message: self.message,
            hint: self.hint,
        }
    }
}

/// Classifies a failed call by what the SDK saw: throttling codes, the HTTP status, the kind of
/// dispatch failure, and (for credentials) the typed provider error. Never by message text.
pub fn call_failure<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> CallFailure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let healing = healing(&err);
    match failed(operation, err) {
        Error::Aws {
            operation,
            code,
            message,
            hint,
        } => CallFailure {
            operation,
            healing,
            code,
            message,
            hint,
        },
        other => CallFailure {
            operation,
            healing,
            code: None,
            message: other.to_string(),
            hint: None,
        },
    }
}

fn healing<E>(err: &SdkError<E, HttpResponse>) -> Healing
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let Some(c) = credentials_error(err) {
        // A provider that timed out (IMDS, STS, SSO unreachable) may answer next time; one that
        // answered "no" will not.
        return match c {
            CredentialsError::ProviderTimedOut(_) => Healing::Transient,
            _ => Healing::Permanent,
        };
    }
    match err {
        SdkError::ServiceError(s) => {
            if is_throttling(s.err().code()) {
                Healing::Throttled
            } else if s.raw().status().is_server_error() {
                Healing::Transient
            } else {
                Healing::Permanent
            }
        }
        // Connection refused or reset, DNS, an attempt or operation timeout, a response cut short.
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            Healing::Transient
        }
        _ => Healing::Permanent,
    }
}

/// The credentials provider's error, when that is what failed the call (typed, via the source chain).
fn credentials_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a CredentialsError> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(c) = e.downcast_ref::<CredentialsError>() {
            return Some(c);
        }
        cur = e.source();
    }
    None
}

/// Whether the failure comes from the credentials provider chain (typed, via the source chain).
fn caused_by_credentials(err: &(dyn StdError + 'static)) -> bool {
    credentials_error(err).is_some()
}

/// The error and its causes, by their Display (the SDK's Debug dumps are not for people).
fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        let s = e.to_string();
        if !s.is_empty() && !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_codes_of_every_service_back_off() {
        for c in [
            "ThrottlingException",
            "Throttling",
            "TooManyRequestsException",
            "RequestLimitExceeded",
        ] {
            assert!(is_throttling(Some(c)), "{c}");
        }
        assert!(!is_throttling(Some("AccessDeniedException")));
        assert!(!is_throttling(None));
    }
}
