//! Errors of the image store and of pulls, with the kind the kubelet needs for a container's
//! waiting reason (`ErrImagePull`, `InvalidImageName`, `ErrImageNeverPull`).

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use oci_client::errors::{OciDistributionError, OciErrorCode};

use super::reference::InvalidReference;

/// What went wrong with a pull, in the categories a caller acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PullErrorKind {
    /// The reference does not parse (`InvalidImageName`).
    InvalidReference,
    /// The registry has no such repository, tag, digest or platform.
    NotFound,
    /// The registry refused the credentials (or their absence).
    Unauthorized,
    /// The registry could not be reached, the connection broke, or a download stalled.
    Network,
    /// Content did not match its digest or size.
    DigestMismatch,
    /// The registry answered with an error we do not classify further.
    Registry,
    /// The image uses something this store does not support (media type, compression).
    Unsupported,
    /// A layer was refused while unpacking (unsafe path) or could not be written.
    Layer,
    /// The image is not present and the pull policy is `Never` (`ErrImageNeverPull`).
    NeverPull,
    /// Local storage failed.
    Storage,
}

/// A failed pull. Cloneable, so one failed download can be reported to every pull waiting on it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PullError {
    /// See [`PullErrorKind::InvalidReference`].
    #[error(transparent)]
    InvalidReference(#[from] InvalidReference),
    /// See [`PullErrorKind::NotFound`].
    #[error("{reference}: not found: {message}")]
    NotFound {
        /// The image.
        reference: String,
        /// The registry's words.
        message: String,
    },
    /// See [`PullErrorKind::Unauthorized`].
    #[error("{reference}: unauthorized: {message}")]
    Unauthorized {
        /// The image.
        reference: String,
        /// The registry's words.
        message: String,
    },
    /// See [`PullErrorKind::Network`].
    #[error("{reference}: {message}")]
    Network {
        /// The image.
        reference: String,
        /// What failed.
        message: String,
    },
    /// See [`PullErrorKind::DigestMismatch`].
    #[error("{reference}: content of {expected} does not match: got {actual}")]
    DigestMismatch {
        /// The image.
        reference: String,
        /// The digest (or size) the manifest promised.
        expected: String,
        /// What arrived.
        actual: String,
    },
    /// See [`PullErrorKind::Registry`].
    #[error("{reference}: registry error: {message}")]
    Registry {
        /// The image.
        reference: String,
        /// The registry's words.
        message: String,
    },
    /// See [`PullErrorKind::Unsupported`].
    #[error("{reference}: unsupported: {message}")]
    Unsupported {
        /// The image.
        reference: String,
        /// What is not supported.
        message: String,
    },
    /// See [`PullErrorKind::Layer`].
    #[error("{reference}: layer {digest}: {message}")]
    Layer {
        /// The image.
        reference: String,
        /// The layer's blob digest.
        digest: String,
        /// The unpack error.
        message: String,
    },
    /// See [`PullErrorKind::NeverPull`].
    #[error("container image {reference:?} is not present with pull policy of Never")]
    NeverPull {
        /// The image.
        reference: String,
    },
    /// See [`PullErrorKind::Storage`].
    #[error("image store: {0}")]
    Storage(#[from] StoreError),
}

impl PullError {
    /// The category.
    pub fn kind(&self) -> PullErrorKind {
        match self {
            PullError::InvalidReference(_) => PullErrorKind::InvalidReference,
            PullError::NotFound { .. } => PullErrorKind::NotFound,
            PullError::Unauthorized { .. } => PullErrorKind::Unauthorized,
            PullError::Network { .. } => PullErrorKind::Network,
            PullError::DigestMismatch { .. } => PullErrorKind::DigestMismatch,
            PullError::Registry { .. } => PullErrorKind::Registry,
            PullError::Unsupported { .. } => PullErrorKind::Unsupported,
            PullError::Layer { .. } => PullErrorKind::Layer,
            PullError::NeverPull { .. } => PullErrorKind::NeverPull,
            PullError::Storage(_) => PullErrorKind::Storage,
        }
    }

    /// The kubelet's waiting reason for a container whose image this was: `InvalidImageName`,
    /// `ErrImageNeverPull`, or `ErrImagePull` (which turns into `ImagePullBackOff` on retry).
    pub fn reason(&self) -> &'static str {
        match self.kind() {
            PullErrorKind::InvalidReference => "InvalidImageName",
            PullErrorKind::NeverPull => "ErrImageNeverPull",
            _ => "ErrImagePull",
        }
    }

    /// Whether retrying the same request can help (the store already retried stalls).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind(),
            PullErrorKind::Network | PullErrorKind::Registry
        )
    }

    /// Maps an oci-client error for `reference`.
    pub(crate) fn from_oci(reference: &str, e: OciDistributionError) -> PullError {
        let reference = reference.to_string();
        match e {
            OciDistributionError::RegistryError { envelope, url } => {
                let message = format!("{envelope} ({url})");
                let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
                if codes
                    .iter()
                    .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
                {
                    PullError::Unauthorized { reference, message }
                } else if codes.iter().any(|c| {
                    matches!(
                        c,
                        OciErrorCode::ManifestUnknown
                            | OciErrorCode::NameUnknown
                            | OciErrorCode::BlobUnknown
                            | OciErrorCode::NotFound
                    )
                }) {
                    PullError::NotFound { reference, message }
                } else if codes.contains(&&OciErrorCode::Toomanyrequests) {
                    PullError::Network { reference, message }
                } else {
                    PullError::Registry { reference, message }
                }
            }
            OciDistributionError::UnauthorizedError { url } => PullError::Unauthorized {
                reference,
                message: format!("401 from {url}"),
            },
            OciDistributionError::AuthenticationFailure(m) => PullError::Unauthorized {
                reference,
                message: m,
            },
            OciDistributionError::ServerError { code, url, message } => match code {
                401 | 403 => PullError::Unauthorized {
                    reference,
                    message: format!("{code} from {url}: {message}"),
                },
                404 => PullError::NotFound {
                    reference,
                    message: format!("404 from {url}"),
                },
                429 | 500..=599 => PullError::Network {
                    reference,
                    message: format!("{code} from {url}: {message}"),
                },
                _ => PullError::Registry {
                    reference,
                    message: format!("{code} from {url}: {message}"),
                },
            },
            OciDistributionError::ImageManifestNotFoundError(m) => PullError::NotFound {
                reference,
                message: m,
            },
            OciDistributionError::DigestError(d) => digest_error(reference, d),
            OciDistributionError::RequestError(r) => PullError::Network {
                reference,
                message: network_message(&r),
            },
            OciDistributionError::IoError(io) => PullError::from_io(&reference, io),
            e @ (OciDistributionError::ManifestParsingError(_)
            | OciDistributionError::VersionedParsingError(_)
            | OciDistributionError::UnsupportedMediaTypeError(_)
            | OciDistributionError::UnsupportedSchemaVersionError(_)
            | OciDistributionError::IncompatibleLayerMediaTypeError(_)) => PullError::Unsupported {
                reference,
                message: e.to_string(),
            },
            e => PullError::Registry {
                reference,
                message: e.to_string(),
            },
        }
    }

    /// Maps an I/O error from a blob stream (which carries oci-client's digest check and reqwest's
    /// transport errors).
    pub(crate) fn from_io(reference: &str, e: io::Error) -> PullError {
        let reference = reference.to_string();
        if let Some(inner) = e.get_ref() {
            if let Some(d) = inner.downcast_ref::<oci_client::errors::DigestError>() {
                return match d {
                    oci_client::errors::DigestError::VerificationError { expected, actual } => {
                        PullError::DigestMismatch {
                            reference,
                            expected: expected.clone(),
                            actual: actual.clone(),
                        }
                    }
                    other => PullError::Unsupported {
                        reference,
                        message: other.to_string(),
                    },
                };
            }
            if let Some(r) = inner.downcast_ref::<oci_client::errors::OciDistributionError>() {
                return PullError::Network {
                    reference,
                    message: r.to_string(),
                };
            }
        }
        PullError::Network {
            reference,
            message: e.to_string(),
        }
    }
}

fn digest_error(reference: String, d: oci_client::errors::DigestError) -> PullError {
    match d {
        oci_client::errors::DigestError::VerificationError { expected, actual } => {
            PullError::DigestMismatch {
                reference,
                expected,
                actual,
            }
        }
        other => PullError::Unsupported {
            reference,
            message: other.to_string(),
        },
    }
}

/// reqwest's error with its causes (connect refused, timed out, ...).
fn network_message(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// A failure of the local store (its directories, its index).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A file system operation failed.
    #[error("{op} {path:?}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The error.
        #[source]
        source: Arc<io::Error>,
    },
    /// The image index does not parse.
    #[error("image index {path:?} is corrupt: {message}")]
    CorruptIndex {
        /// The index file.
        path: PathBuf,
        /// The parse error.
        message: String,
    },
    /// The image's layers are the root file system of a container (a mounted overlay).
    #[error("image {image} is in use: its layers are mounted at {mount:?} (a container's root file system); stop the container first")]
    InUse {
        /// The image's first name, or its ID.
        image: String,
        /// Where the overlay using it is mounted.
        mount: PathBuf,
    },
}

impl StoreError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, e: io::Error) -> StoreError {
        StoreError::Io {
            op,
            path: path.into(),
            source: Arc::new(e),
        }
    }
}
