//! Field-level validation errors, shaped like apimachinery's `field.Error`.
//!
//! Every validation failure names the field path it concerns (`spec.containers[0].image`) so that the
//! API server can return a `Status` whose `details.causes` kubectl renders exactly as a real cluster does:
//! `The Pod "bad" is invalid: spec.containers[0].image: Required value`.

use std::fmt;

/// A field path such as `spec.containers[0].image`, built up child by child.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Path(String);

impl Path {
    /// The root path with one element, e.g. `Path::new("spec")`.
    pub fn new(name: &str) -> Self {
        Path(name.to_string())
    }
    /// `a.b` from `a` and `b`.
    ///
    /// Validation builds a path for every field it visits, error or not, so these concatenate
    /// directly rather than through `format!` (whose machinery was 4% of a pod create's CPU).
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Path(name.to_string())
        } else {
            self.joined(&[".", name])
        }
    }
    /// `a[3]` from `a` and `3`.
    pub fn index(&self, i: usize) -> Self {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        let mut n = i;
        loop {
            start -= 1;
            digits[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let digits = std::str::from_utf8(&digits[start..]).unwrap_or("0");
        self.joined(&["[", digits, "]"])
    }
    /// `a[key]` from `a` and `key` (map entries, as upstream prints them).
    pub fn key(&self, k: &str) -> Self {
        self.joined(&["[", k, "]"])
    }
    fn joined(&self, parts: &[&str]) -> Self {
        let mut s =
            String::with_capacity(self.0.len() + parts.iter().map(|p| p.len()).sum::<usize>());
        s.push_str(&self.0);
        for p in parts {
            s.push_str(p);
        }
        Path(s)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kind of a field error; `reason()` is the string that appears in `Status.details.causes[].reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    NotFound,
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    Internal,
    TypeInvalid,
}

impl ErrorType {
    /// The `causes[].reason` string (`metav1.CauseType`).
    pub fn reason(self) -> &'static str {
        match self {
            ErrorType::NotFound => "FieldValueNotFound",
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::Internal => "InternalError",
            ErrorType::TypeInvalid => "FieldValueTypeInvalid",
        }
    }
    /// The human text that starts the error body (`field.ErrorType.String()`).
    pub fn text(self) -> &'static str {
        match self {
            ErrorType::NotFound => "Not found",
            ErrorType::Required => "Required value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::Internal => "Internal error",
            ErrorType::TypeInvalid => "Invalid value",
        }
    }
}

/// One validation failure at one field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub kind: ErrorType,
    pub field: String,
    /// The offending value, rendered as upstream renders it (strings quoted, numbers bare); `None` when the
    /// error type prints no value (Required, Forbidden, TooLong, TooMany, Internal).
    pub bad_value: Option<String>,
    pub detail: String,
}

/// Renders a value the way apimachinery's field errors print `BadValue` (`%#v`-like: strings quoted).
pub fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

impl FieldError {
    fn new(
        kind: ErrorType,
        path: &Path,
        bad_value: Option<String>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            kind,
            field: path.as_str().to_string(),
            bad_value,
            detail: detail.into(),
        }
    }
    pub fn required(path: &Path, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Required, path, None, detail)
    }
    /// An invalid string value; the value is quoted in the message.
    pub fn invalid(path: &Path, value: &str, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Invalid, path, Some(quote(value)), detail)
    }
    /// An invalid value already rendered (numbers, or lists).
    pub fn invalid_raw(path: &Path, value: impl fmt::Display, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Invalid, path, Some(value.to_string()), detail)
    }
    pub fn duplicate(path: &Path, value: &str) -> Self {
        Self::new(ErrorType::Duplicate, path, Some(quote(value)), "")
    }
    /// A duplicate whose value is already rendered (numbers, structs printed as upstream prints them).
    pub fn duplicate_raw(path: &Path, value: impl fmt::Display) -> Self {
        Self::new(ErrorType::Duplicate, path, Some(value.to_string()), "")
    }
    pub fn not_found(path: &Path, value: &str) -> Self {
        Self::new(ErrorType::NotFound, path, Some(quote(value)), "")
    }
    /// A value outside an enum; `supported` is listed as upstream does: `supported values: "A", "B"`.
    pub fn not_supported(path: &Path, value: &str, supported: &[&str]) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(ErrorType::NotSupported, path, Some(quote(value)), detail)
    }
    pub fn forbidden(path: &Path, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Forbidden, path, None, detail)
    }
    pub fn too_long(path: &Path, max: usize) -> Self {
        Self::new(
            ErrorType::TooLong,
            path,
            None,
            format!("may not be more than {max} bytes"),
        )
    }
    pub fn too_many(path: &Path, actual: usize, max: usize) -> Self {
        Self::new(
            ErrorType::TooMany,
            path,
            None,
            format!("{actual}: must have at most {max} items"),
        )
    }
    pub fn internal(path: &Path, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Internal, path, None, detail)
    }

    /// The error without its field path (`field.Error.ErrorBody()`), used as `causes[].message`.
    pub fn body(&self) -> String {
        let mut s = self.kind.text().to_string();
        if let Some(v) = &self.bad_value {
            s.push_str(": ");
            s.push_str(v);
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.body())
        } else {
            write!(f, "{}: {}", self.field, self.body())
        }
    }
}

/// A list of field errors, as returned by validation.
pub type ErrorList = Vec<FieldError>;

/// Renders an error list as apimachinery's aggregate does: one error bare, several in `[a, b]`.
pub fn aggregate_message(errs: &[FieldError]) -> String {
    match errs {
        [one] => one.to_string(),
        many => format!(
            "[{}]",
            many.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_apimachinery() {
        let p = Path::new("spec")
            .child("containers")
            .index(0)
            .child("image");
        assert_eq!(
            FieldError::required(&p, "").to_string(),
            "spec.containers[0].image: Required value"
        );
        let r = Path::new("spec").child("restartPolicy");
        assert_eq!(
            FieldError::not_supported(&r, "Sometimes", &["Always", "Never", "OnFailure"]).to_string(),
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"Never\", \"OnFailure\""
        );
        let errs = vec![
            FieldError::required(&p, ""),
            FieldError::duplicate(&Path::new("a"), "x"),
        ];
        assert_eq!(
            aggregate_message(&errs),
            "[spec.containers[0].image: Required value, a: Duplicate value: \"x\"]"
        );
        let p = Path::new("")
            .child("data")
            .key("a.b")
            .index(10)
            .index(1234567);
        assert_eq!(p.as_str(), "data[a.b][10][1234567]");
        assert_eq!(
            Path::new("x").index(usize::MAX).as_str(),
            format!("x[{}]", usize::MAX)
        );
    }
}
