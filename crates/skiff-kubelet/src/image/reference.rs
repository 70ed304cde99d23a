//! Image references, normalized the way Kubernetes and containerd do (`ParseDockerRef`): `busybox`
//! is `docker.io/library/busybox:latest`, `ghcr.io/a/b` is `ghcr.io/a/b:latest`, and a reference with
//! a digest keeps only the digest (`name:tag@sha256:..` pulls by digest).

use std::fmt;

use oci_client::Reference;

/// A parsed, normalized image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// Why a string is not an image reference (kubelet reason `InvalidImageName`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {reference:?}: {reason}")]
pub struct InvalidReference {
    /// The string as given.
    pub reference: String,
    /// What is wrong.
    pub reason: String,
}

impl ImageRef {
    /// Parses and normalizes `s`.
    pub fn parse(s: &str) -> Result<ImageRef, InvalidReference> {
        let invalid = |reason: String| InvalidReference {
            reference: s.to_string(),
            reason,
        };
        if s.trim() != s || s.is_empty() {
            return Err(invalid("empty or surrounded by spaces".into()));
        }
        let parsed: Reference = s.parse().map_err(|e| invalid(format!("{e}")))?;
        if parsed.repository().chars().any(|c| c.is_ascii_uppercase()) {
            return Err(invalid("repository name must be lowercase".into()));
        }
        let digest = parsed.digest().map(str::to_string);
        Ok(ImageRef {
            registry: parsed.registry().to_string(),
            repository: parsed.repository().to_string(),
            tag: if digest.is_some() {
                None
            } else {
                parsed.tag().map(str::to_string)
            },
            digest,
        })
    }

    /// The registry host (and port): `docker.io`, `127.0.0.1:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path: `library/busybox`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, unless the reference has a digest.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, `sha256:<hex>`.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// `registry/repository`: the name part that `repo@digest` and `repo:tag` share.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// `registry/repository@digest` for the given digest.
    pub fn with_digest(&self, digest: &str) -> String {
        format!("{}@{digest}", self.name())
    }

    /// The host part of the registry, without port: what loopback detection looks at.
    pub fn host(&self) -> &str {
        let r = self.registry.as_str();
        if let Some(rest) = r.strip_prefix('[') {
            return rest.split(']').next().unwrap_or(rest);
        }
        r.rsplit_once(':').map_or(r, |(h, _)| h)
    }

    /// Whether the registry is on this machine (`localhost`, `127.0.0.0/8`, `::1`): plain HTTP.
    pub fn is_loopback(&self) -> bool {
        let h = self.host();
        h == "localhost"
            || h == "::1"
            || h.parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    pub(crate) fn to_oci(&self) -> Reference {
        match (&self.digest, &self.tag) {
            (Some(d), _) => {
                Reference::with_digest(self.registry.clone(), self.repository.clone(), d.clone())
            }
            (None, t) => Reference::with_tag(
                self.registry.clone(),
                self.repository.clone(),
                t.clone().unwrap_or_else(|| "latest".into()),
            ),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for ImageRef {
    type Err = InvalidReference;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageRef::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn normalizes_like_containerd() {
        let cases = [
            ("busybox", "docker.io/library/busybox:latest"),
            ("busybox:1.36", "docker.io/library/busybox:1.36"),
            ("library/busybox", "docker.io/library/busybox:latest"),
            ("docker.io/busybox", "docker.io/library/busybox:latest"),
            (
                "index.docker.io/library/busybox",
                "docker.io/library/busybox:latest",
            ),
            ("user/app:v1", "docker.io/user/app:v1"),
            ("ghcr.io/org/app", "ghcr.io/org/app:latest"),
            ("localhost/app", "localhost/app:latest"),
            ("localhost:5000/app:dev", "localhost:5000/app:dev"),
            ("127.0.0.1:5000/a/b/c:1", "127.0.0.1:5000/a/b/c:1"),
        ];
        for (input, want) in cases {
            assert_eq!(ImageRef::parse(input).unwrap().to_string(), want, "{input}");
        }
        let r = ImageRef::parse(&format!("busybox:1.36@{D}")).unwrap();
        assert_eq!(r.to_string(), format!("docker.io/library/busybox@{D}"));
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest(), Some(D));
        assert_eq!(r.name(), "docker.io/library/busybox");
    }

    #[test]
    fn refuses_bad_references() {
        for bad in [
            "",
            " busybox",
            "Busybox",
            "busybox@sha256:abc",
            "busybox:",
            "a//b",
            "UPPER/case",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn loopback_detection() {
        assert!(ImageRef::parse("127.0.0.1:5000/x").unwrap().is_loopback());
        assert!(ImageRef::parse("localhost:5000/x").unwrap().is_loopback());
        assert!(!ImageRef::parse("registry.example:5000/x")
            .unwrap()
            .is_loopback());
        assert!(!ImageRef::parse("busybox").unwrap().is_loopback());
        assert_eq!(
            ImageRef::parse("127.0.0.1:5000/x").unwrap().host(),
            "127.0.0.1"
        );
    }
}
