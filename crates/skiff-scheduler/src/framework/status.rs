//! `framework.Status`: the outcome of one plugin at one extension point.
//!
//! A success carries nothing and never allocates, so the hot Filter/Score paths stay allocation-free;
//! rejections carry upstream's reason strings (mostly `'static`), which end up in the `FailedScheduling`
//! message and in the explain annotations.

use std::borrow::Cow;
use std::fmt;

/// `framework.Code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Code {
    /// The plugin ran correctly and found the pod schedulable.
    #[default]
    Success,
    /// An internal error: the scheduling attempt fails and is retried with backoff.
    Error,
    /// The pod does not fit now; preemption may help.
    Unschedulable,
    /// The pod does not fit and preemption would not help on this node.
    UnschedulableAndUnresolvable,
    /// A Permit plugin asks the pod to wait.
    Wait,
    /// The plugin has nothing to do for this pod (PreFilter, PreScore, Bind).
    Skip,
    /// The pod waits for something outside the scheduler (PreEnqueue, PreFilter).
    Pending,
}

impl Code {
    /// Upstream's code name (`Code.String()`).
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Success => "Success",
            Code::Error => "Error",
            Code::Unschedulable => "Unschedulable",
            Code::UnschedulableAndUnresolvable => "UnschedulableAndUnresolvable",
            Code::Wait => "Wait",
            Code::Skip => "Skip",
            Code::Pending => "Pending",
        }
    }
}

/// A plugin's verdict: a code, reasons and the plugin that produced it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    code: Code,
    reasons: Vec<Cow<'static, str>>,
    plugin: &'static str,
}

impl Status {
    /// Success (`nil` upstream). Does not allocate.
    #[inline]
    pub const fn success() -> Self {
        Status {
            code: Code::Success,
            reasons: Vec::new(),
            plugin: "",
        }
    }

    /// A status with one reason.
    pub fn new(code: Code, reason: impl Into<Cow<'static, str>>) -> Self {
        Status {
            code,
            reasons: vec![reason.into()],
            plugin: "",
        }
    }

    /// A status with no reasons.
    pub const fn code_only(code: Code) -> Self {
        Status {
            code,
            reasons: Vec::new(),
            plugin: "",
        }
    }

    /// A status with several reasons.
    pub fn with_reasons(code: Code, reasons: Vec<Cow<'static, str>>) -> Self {
        Status {
            code,
            reasons,
            plugin: "",
        }
    }

    /// `framework.AsStatus(err)`: an `Error` status.
    pub fn error(msg: impl Into<Cow<'static, str>>) -> Self {
        Status::new(Code::Error, msg)
    }

    /// `framework.NewStatus(framework.Skip)`.
    pub const fn skip() -> Self {
        Status::code_only(Code::Skip)
    }

    pub fn code(&self) -> Code {
        self.code
    }

    pub fn reasons(&self) -> &[Cow<'static, str>] {
        &self.reasons
    }

    /// The plugin that produced this status (`""` when unset).
    pub fn plugin(&self) -> &'static str {
        self.plugin
    }

    /// Records the plugin (`SetPlugin`).
    pub fn with_plugin(mut self, plugin: &'static str) -> Self {
        self.plugin = plugin;
        self
    }

    pub fn set_plugin(&mut self, plugin: &'static str) {
        self.plugin = plugin;
    }

    /// The reasons joined by `", "` (`Status.Message`).
    pub fn message(&self) -> String {
        self.reasons.join(", ")
    }

    #[inline]
    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }

    #[inline]
    pub fn is_skip(&self) -> bool {
        self.code == Code::Skip
    }

    #[inline]
    pub fn is_wait(&self) -> bool {
        self.code == Code::Wait
    }

    /// `IsRejected`: Unschedulable, UnschedulableAndUnresolvable or Pending.
    #[inline]
    pub fn is_rejected(&self) -> bool {
        matches!(
            self.code,
            Code::Unschedulable | Code::UnschedulableAndUnresolvable | Code::Pending
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reasons.is_empty() {
            f.write_str(self.code.as_str())
        } else {
            f.write_str(&self.message())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_joins_reasons() {
        let s = Status::with_reasons(
            Code::Unschedulable,
            vec!["Insufficient cpu".into(), "Insufficient memory".into()],
        );
        assert_eq!(s.message(), "Insufficient cpu, Insufficient memory");
        assert!(s.is_rejected());
        assert!(Status::success().is_success());
        assert!(!Status::error("x").is_rejected());
        assert_eq!(Status::skip().to_string(), "Skip");
    }
}
