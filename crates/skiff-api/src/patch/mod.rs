//! The patch engines behind `PATCH`: JSON merge patch ([`merge`], RFC 7386), JSON patch ([`json`],
//! RFC 6902), strategic merge patch ([`strategic`]) and the static type metadata strategic merge and
//! server-side apply need ([`schema`]).
//!
//! All engines work on `serde_json::Value` (with `preserve_order`, so untouched keys keep their order).
//! They follow the libraries kube-apiserver v1.32 uses — `gopkg.in/evanphx/json-patch.v4` for merge and
//! JSON patch, apimachinery `pkg/util/strategicpatch` for strategic merge — including their error texts,
//! so that a client sees the same answer as from a real cluster. [`PatchError::to_api_error`] maps an
//! error to the `Status` the API server returns.

pub mod json;
pub mod merge;
pub mod schema;
pub mod strategic;

use crate::status::ApiError;

/// A patch that could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch document is malformed for its patch type (not a JSON patch array, an unknown `$patch`
    /// directive, a list element without its merge key, ...). Answered with 400 `BadRequest` carrying
    /// this message.
    #[error("{0}")]
    BadRequest(String),
    /// The patch is well-formed but does not apply to this object: a JSON patch operation on a missing
    /// path or a failed `test`, a strategic merge patch with lists of lists or keys outside
    /// `$retainKeys`. Answered with 422 `Invalid`.
    #[error("{0}")]
    Unprocessable(String),
}

impl PatchError {
    /// The message (the same as `Display`).
    pub fn message(&self) -> &str {
        match self {
            PatchError::BadRequest(m) | PatchError::Unprocessable(m) => m,
        }
    }

    /// The `Status` kube-apiserver answers with.
    ///
    /// `BadRequest` keeps the message. `Unprocessable` is answered exactly as upstream does
    /// (`apierrors.NewGenericServerResponse(422, ...)`): reason `Invalid`, empty `details`, and the generic
    /// message `the server rejected our request due to an error in our request`; the specific message
    /// (`add operation does not apply: doc is missing path: ...`) is not sent, so log it.
    ///
    /// Upstream answers a strategic merge patch error that is not one of its "invalid patch format" /
    /// "lists of lists" sentinels (a missing merge key, an unknown `$patch` value, ...) with a bare 500;
    /// Skiff classifies those as `BadRequest` instead, with upstream's message (a malformed patch is the
    /// client's error, and a 500 means a bug in Skiff).
    pub fn to_api_error(&self) -> ApiError {
        match self {
            PatchError::BadRequest(m) => ApiError::bad_request(m.clone()),
            PatchError::Unprocessable(_) => ApiError {
                code: 422,
                reason: "Invalid",
                message: "the server rejected our request due to an error in our request"
                    .to_string(),
                details: Some(Box::default()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors() {
        let e = PatchError::BadRequest("invalid patch format of retainKeys".into()).to_api_error();
        assert_eq!(
            (e.code, e.reason, e.message.as_str()),
            (400, "BadRequest", "invalid patch format of retainKeys")
        );
        let e = PatchError::Unprocessable("testing value /a failed: test failed".into());
        assert_eq!(e.to_string(), "testing value /a failed: test failed");
        let body = String::from_utf8(e.to_api_error().to_body()).unwrap();
        assert_eq!(
            body,
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"the server rejected our request due to an error in our request\",\"reason\":\"Invalid\",\"details\":{},\"code\":422}\n"
        );
    }
}
