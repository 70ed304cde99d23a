//! Resource quantities (`500m`, `1.5Gi`, `1e3`), parsed, compared and serialized as apimachinery's
//! `resource.Quantity` does.
//!
//! k8s-openapi keeps a quantity as the string the client sent. A real API server parses it on decode and
//! writes it back in canonical form, so a pod created with `cpu: 0.5` is served as `cpu: 500m` and
//! `memory: 1024Ki` as `1Mi`; [`Quantity::to_string`] reproduces that form, including upstream's quirk of
//! keeping the client's spelling when it already looks canonical (`"+1"` stays `"+1"`, `"010"` stays
//! `"010"`).
//!
//! Written by hand rather than on a big-decimal crate: the value model is small (a decimal mantissa of
//! any length and a power of ten, rounded up to nanos as upstream does), and the exact rounding and
//! formatting rules are upstream's own, which no general decimal library reproduces.

use std::cmp::Ordering;
use std::fmt;

/// The regular expression upstream names in its parse error.
pub const QUANTITY_REGEX: &str = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$";

/// Why a string is not a quantity; `Display` is upstream's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    FormatWrong,
    #[error("unable to parse numeric part of quantity")]
    Numeric,
    #[error("unable to parse quantity's suffix")]
    Suffix,
}

/// How a quantity is written back (`resource.Format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `12e6`
    DecimalExponent,
    /// `12Mi`
    BinarySI,
    /// `12M`
    DecimalSI,
}

/// A parsed quantity: `±digits × 10^-scale`, with `scale ≤ 9` (values are rounded up to nanos).
#[derive(Debug, Clone)]
pub struct Quantity {
    negative: bool,
    /// Magnitude digits, most significant first, without leading zeros; empty means zero.
    digits: Vec<u8>,
    scale: i64,
    format: Format,
    /// The client's spelling, kept when upstream would keep it.
    original: Option<String>,
}

const MAX_INT64_FACTORS: i32 = 18;

struct Split<'a> {
    positive: bool,
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

/// `parseQuantityString`: splits sign, integer digits (leading zeros dropped), fraction and suffix.
fn split(s: &str) -> Result<Split<'_>, QuantityError> {
    let b = s.as_bytes();
    let end = b.len();
    let mut positive = true;
    let mut pos = 0;
    if pos < end {
        match b[0] {
            b'-' => {
                positive = false;
                pos += 1;
            }
            b'+' => pos += 1,
            _ => {}
        }
    }
    // Leading zeros.
    loop {
        if pos >= end {
            return Ok(Split {
                positive,
                num: "0",
                denom: "",
                suffix: "",
            });
        }
        if b[pos] == b'0' {
            pos += 1;
        } else {
            break;
        }
    }
    let num_start = pos;
    let mut i = pos;
    while i < end && b[i].is_ascii_digit() {
        i += 1;
    }
    if i >= end {
        return Ok(Split {
            positive,
            num: &s[num_start..],
            denom: "",
            suffix: "",
        });
    }
    let mut num = &s[num_start..i];
    pos = i;
    if num.is_empty() {
        num = "0";
    }
    let mut denom = "";
    if b[pos] == b'.' {
        pos += 1;
        let mut j = pos;
        while j < end && b[j].is_ascii_digit() {
            j += 1;
        }
        if j >= end {
            return Ok(Split {
                positive,
                num,
                denom: &s[pos..],
                suffix: "",
            });
        }
        denom = &s[pos..j];
        pos = j;
    }
    let suffix_start = pos;
    let mut i = pos;
    while i < end && b"eEinumkKMGTP".contains(&b[i]) {
        i += 1;
    }
    if i >= end {
        return Ok(Split {
            positive,
            num,
            denom,
            suffix: &s[suffix_start..],
        });
    }
    pos = i;
    if b[pos] == b'-' || b[pos] == b'+' {
        pos += 1;
    }
    let mut i = pos;
    while i < end && b[i].is_ascii_digit() {
        i += 1;
    }
    if i >= end {
        return Ok(Split {
            positive,
            num,
            denom,
            suffix: &s[suffix_start..],
        });
    }
    Err(QuantityError::FormatWrong)
}

/// `(base, exponent, format)` for a suffix.
fn interpret(suffix: &str) -> Option<(u32, i32, Format)> {
    let dec = |e| Some((10, e, Format::DecimalSI));
    let bin = |e| Some((2, e, Format::BinarySI));
    match suffix {
        "" => dec(0),
        "n" => dec(-9),
        "u" => dec(-6),
        "m" => dec(-3),
        "k" => dec(3),
        "M" => dec(6),
        "G" => dec(9),
        "T" => dec(12),
        "P" => dec(15),
        "E" => dec(18),
        "Ki" => bin(10),
        "Mi" => bin(20),
        "Gi" => bin(30),
        "Ti" => bin(40),
        "Pi" => bin(50),
        "Ei" => bin(60),
        _ => {
            let b = suffix.as_bytes();
            if b.len() > 1 && (b[0] == b'e' || b[0] == b'E') {
                // Go: strconv.ParseInt(.., 64) then int32(...) (wrapping).
                let parsed: i64 = suffix[1..].parse().ok()?;
                Some((10, parsed as i32, Format::DecimalExponent))
            } else {
                None
            }
        }
    }
}

fn strip_leading_zeros(mut d: Vec<u8>) -> Vec<u8> {
    let nz = d.iter().position(|&x| x != 0).unwrap_or(d.len());
    d.drain(..nz);
    d
}

fn mul_small(d: &mut Vec<u8>, m: u32) {
    let mut carry: u64 = 0;
    for x in d.iter_mut().rev() {
        let v = u64::from(*x) * u64::from(m) + carry;
        *x = (v % 10) as u8;
        carry = v / 10;
    }
    while carry > 0 {
        d.insert(0, (carry % 10) as u8);
        carry /= 10;
    }
}

/// Divides in place; returns the remainder.
fn div_small(d: &mut Vec<u8>, m: u32) -> u32 {
    let mut rem: u64 = 0;
    for x in d.iter_mut() {
        let v = rem * 10 + u64::from(*x);
        *x = (v / u64::from(m)) as u8;
        rem = v % u64::from(m);
    }
    let stripped = strip_leading_zeros(std::mem::take(d));
    *d = stripped;
    rem as u32
}

/// Adds one to a magnitude.
fn increment(d: &mut Vec<u8>) {
    for x in d.iter_mut().rev() {
        if *x == 9 {
            *x = 0;
        } else {
            *x += 1;
            return;
        }
    }
    d.insert(0, 1);
}

fn digits_of(n: u128) -> Vec<u8> {
    if n == 0 {
        return Vec::new();
    }
    n.to_string().bytes().map(|c| c - b'0').collect()
}

/// 2^63 - 1, the cap upstream puts on binary-suffixed values.
const MAX_ALLOWED: u128 = (1u128 << 63) - 1;

impl Quantity {
    /// Parses a quantity as `resource.ParseQuantity` does.
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        if s.is_empty() {
            return Err(QuantityError::FormatWrong);
        }
        if s == "0" {
            return Ok(Quantity::zero_with(Format::DecimalSI, Some(s.to_string())));
        }
        let sp = split(s)?;
        let (base, exponent, format) = interpret(sp.suffix).ok_or(QuantityError::Suffix)?;

        // The fast path decides whether the client's spelling is kept.
        let mut keep_original = false;
        let precision: i32 = match format {
            Format::DecimalExponent | Format::DecimalSI => {
                MAX_INT64_FACTORS - (sp.num.len() + sp.denom.len()) as i32
            }
            Format::BinarySI => {
                if exponent >= 0 && sp.denom.is_empty() {
                    15 - sp.num.len() as i32 - ((exponent as f32) * 3.0 / 10.0) as i32 - 1
                } else {
                    -1
                }
            }
        };
        if precision >= 0 {
            let scale = match format {
                Format::BinarySI => 0i64,
                _ => i64::from(exponent),
            } - sp.denom.len() as i64;
            if scale >= -9 {
                let shifted = format!("{}{}", sp.num, sp.denom);
                let value: i64 = shifted.parse().map_err(|_| QuantityError::Numeric)?;
                let mantissa: i64 = if format == Format::BinarySI {
                    1i64 << exponent
                } else {
                    1
                };
                if value.checked_mul(mantissa).is_some() {
                    keep_original = match format {
                        Format::BinarySI => exponent % 10 == 0 && (value & 0x07) != 0,
                        _ => {
                            scale % 3 == 0 && !shifted.ends_with("000") && !shifted.starts_with('0')
                        }
                    };
                }
            }
        }

        // Exact value: digits of value (sign and dot removed) × 10^-(len(denom)), then the suffix.
        let mut digits: Vec<u8> = sp
            .num
            .bytes()
            .chain(sp.denom.bytes())
            .map(|c| c - b'0')
            .collect();
        digits = strip_leading_zeros(digits);
        let mut scale: i64 = sp.denom.len() as i64;
        if base == 10 {
            scale -= i64::from(exponent);
        } else {
            for _ in 0..(exponent / 10) {
                mul_small(&mut digits, 1024);
            }
            for _ in 0..(exponent % 10) {
                mul_small(&mut digits, 2);
            }
        }
        let mut q = Quantity {
            negative: !sp.positive,
            digits,
            scale,
            format,
            original: None,
        };
        q.round_up_to_nanos();
        if format == Format::BinarySI {
            if q.magnitude_cmp_u128(MAX_ALLOWED) == Ordering::Greater {
                q.digits = digits_of(MAX_ALLOWED);
                q.scale = 0;
            }
            if !q.is_zero() && q.magnitude_cmp_u128(1) == Ordering::Less {
                q.format = Format::DecimalSI;
            }
        }
        if q.is_zero() {
            q.negative = false;
        }
        if keep_original {
            q.original = Some(s.to_string());
        }
        Ok(q)
    }

    fn zero_with(format: Format, original: Option<String>) -> Quantity {
        Quantity {
            negative: false,
            digits: Vec::new(),
            scale: 0,
            format,
            original,
        }
    }

    /// Rounds the magnitude up (away from zero) to at most 9 decimal places.
    fn round_up_to_nanos(&mut self) {
        if self.scale <= 9 {
            return;
        }
        let drop = (self.scale - 9) as usize;
        if drop >= self.digits.len() {
            let any = self.digits.iter().any(|&d| d != 0);
            self.digits = if any { vec![1] } else { Vec::new() };
        } else {
            let keep = self.digits.len() - drop;
            let any = self.digits[keep..].iter().any(|&d| d != 0);
            self.digits.truncate(keep);
            if any {
                increment(&mut self.digits);
            }
            self.digits = strip_leading_zeros(std::mem::take(&mut self.digits));
        }
        self.scale = 9;
    }

    pub fn is_zero(&self) -> bool {
        self.digits.iter().all(|&d| d == 0)
    }

    pub fn is_negative(&self) -> bool {
        self.negative && !self.is_zero()
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Digits with trailing zeros removed and the matching power of ten: magnitude = m × 10^e.
    fn normalized(&self) -> (&[u8], i64) {
        let mut end = self.digits.len();
        while end > 0 && self.digits[end - 1] == 0 {
            end -= 1;
        }
        let stripped = (self.digits.len() - end) as i64;
        (&self.digits[..end], stripped - self.scale)
    }

    fn magnitude_cmp(&self, other: &Quantity) -> Ordering {
        let (a, ea) = self.normalized();
        let (b, eb) = other.normalized();
        match (a.is_empty(), b.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        // Position of the leading digit.
        let la = a.len() as i64 + ea;
        let lb = b.len() as i64 + eb;
        if la != lb {
            return la.cmp(&lb);
        }
        let n = a.len().max(b.len());
        for i in 0..n {
            let x = a.get(i).copied().unwrap_or(0);
            let y = b.get(i).copied().unwrap_or(0);
            if x != y {
                return x.cmp(&y);
            }
        }
        Ordering::Equal
    }

    fn magnitude_cmp_u128(&self, v: u128) -> Ordering {
        let other = Quantity {
            negative: false,
            digits: digits_of(v),
            scale: 0,
            format: Format::DecimalSI,
            original: None,
        };
        self.magnitude_cmp(&other)
    }

    /// `ceil(|q| / 10^-scale)` away from zero, saturating at `i64` bounds (`ScaledValue`).
    fn scaled_value(&self, decimals: i64) -> i64 {
        if self.is_zero() {
            return 0;
        }
        // magnitude × 10^decimals, rounded up to an integer.
        let (m, e) = self.normalized();
        let e = e + decimals;
        let mag: Option<u128> = if e >= 0 {
            if m.len() as i64 + e > 38 {
                None
            } else {
                let mut v: u128 = 0;
                for &d in m {
                    v = v * 10 + u128::from(d);
                }
                (0..e).try_fold(v, |acc, _| acc.checked_mul(10))
            }
        } else {
            let cut = (-e) as usize;
            if cut >= m.len() {
                Some(1)
            } else {
                let keep = m.len() - cut;
                if keep > 38 {
                    None
                } else {
                    let mut v: u128 = 0;
                    for &d in &m[..keep] {
                        v = v * 10 + u128::from(d);
                    }
                    // Anything cut is nonzero (trailing zeros were stripped).
                    Some(v + 1)
                }
            }
        };
        let limit = if self.negative {
            1u128 << 63
        } else {
            (1u128 << 63) - 1
        };
        let mag = mag.map(|v| v.min(limit)).unwrap_or(limit);
        if self.negative {
            (mag as i128).wrapping_neg() as i64
        } else {
            mag as i64
        }
    }

    /// The sum of two non-negative quantities (negative inputs count as zero), keeping `self`'s format
    /// unless `self` is zero (`Quantity.Add` for the sums the QoS and scheduler code need).
    pub fn add(&self, other: &Quantity) -> Quantity {
        if self.is_zero() || self.is_negative() {
            let mut q = if other.is_negative() {
                Quantity::zero_with(other.format, None)
            } else {
                other.clone()
            };
            q.original = None;
            return q;
        }
        if other.is_zero() || other.is_negative() {
            let mut q = self.clone();
            q.original = None;
            return q;
        }
        let scale = self.scale.max(other.scale);
        let align = |q: &Quantity| -> Option<Vec<u8>> {
            let shift = usize::try_from(scale - q.scale).ok()?;
            if shift > 4096 {
                return None;
            }
            let mut d = q.digits.clone();
            d.extend(std::iter::repeat_n(0, shift));
            Some(d)
        };
        let (Some(a), Some(b)) = (align(self), align(other)) else {
            // Scales too far apart to matter: keep the larger.
            let mut q = if self.magnitude_cmp(other) == Ordering::Less {
                other.clone()
            } else {
                self.clone()
            };
            q.original = None;
            return q;
        };
        let n = a.len().max(b.len());
        let mut out = Vec::with_capacity(n + 1);
        let mut carry = 0u8;
        for i in 0..n {
            let x = if i < a.len() { a[a.len() - 1 - i] } else { 0 };
            let y = if i < b.len() { b[b.len() - 1 - i] } else { 0 };
            let v = x + y + carry;
            out.push(v % 10);
            carry = v / 10;
        }
        if carry > 0 {
            out.push(carry);
        }
        out.reverse();
        Quantity {
            negative: false,
            digits: strip_leading_zeros(out),
            scale,
            format: self.format,
            original: None,
        }
    }

    /// The value rounded up (away from zero) to an integer (`Quantity.Value()`).
    pub fn value(&self) -> i64 {
        self.scaled_value(0)
    }

    /// `ceil(q × 1000)` away from zero (`Quantity.MilliValue()`).
    pub fn milli_value(&self) -> i64 {
        self.scaled_value(3)
    }

    /// An approximate `f64`, for scoring and ratios.
    pub fn as_f64(&self) -> f64 {
        let (m, e) = self.normalized();
        let s: String = m.iter().map(|d| char::from(b'0' + d)).collect();
        let v: f64 = if s.is_empty() {
            0.0
        } else {
            format!("{s}e{e}").parse().unwrap_or(f64::INFINITY)
        };
        if self.negative {
            -v
        } else {
            v
        }
    }

    /// A quantity of `value` units in `format` (`resource.NewQuantity`).
    pub fn from_i64(value: i64, format: Format) -> Quantity {
        Quantity {
            negative: value < 0,
            digits: digits_of(u128::from(value.unsigned_abs())),
            scale: 0,
            format,
            original: None,
        }
    }

    /// A quantity of `value` thousandths (`resource.NewMilliQuantity`).
    pub fn from_milli(value: i64, format: Format) -> Quantity {
        Quantity {
            negative: value < 0,
            digits: digits_of(u128::from(value.unsigned_abs())),
            scale: 3,
            format,
            original: None,
        }
    }

    /// The canonical form upstream writes (`CanonicalizeBytes`), ignoring the kept client spelling.
    pub fn canonical(&self) -> String {
        if self.is_zero() {
            return "0".to_string();
        }
        let sign = if self.negative { "-" } else { "" };
        let mut format = self.format;
        if format == Format::BinarySI {
            let small = self.magnitude_cmp_u128(1024) == Ordering::Less;
            let (_, e) = self.normalized();
            let integral = e >= 0;
            if small || !integral {
                format = Format::DecimalSI;
            }
        }
        match format {
            Format::BinarySI => {
                let (m, e) = self.normalized();
                let mut d: Vec<u8> = m.to_vec();
                d.extend(std::iter::repeat_n(0, usize::try_from(e).unwrap_or(0)));
                let mut times = 0;
                loop {
                    let mut t = d.clone();
                    if times >= 6 || div_small(&mut t, 1024) != 0 || t.is_empty() {
                        break;
                    }
                    d = t;
                    times += 1;
                }
                let num: String = d.iter().map(|x| char::from(b'0' + x)).collect();
                let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][times];
                format!("{sign}{num}{suffix}")
            }
            Format::DecimalSI | Format::DecimalExponent => {
                let (m, e) = self.normalized();
                let mut num: String = m.iter().map(|x| char::from(b'0' + x)).collect();
                let mut exponent = e;
                while exponent % 3 != 0 {
                    num.push('0');
                    exponent -= 1;
                }
                let suffix = if format == Format::DecimalExponent {
                    if exponent == 0 {
                        String::new()
                    } else {
                        format!("e{exponent}")
                    }
                } else {
                    match exponent {
                        -9 => "n",
                        -6 => "u",
                        -3 => "m",
                        3 => "k",
                        6 => "M",
                        9 => "G",
                        12 => "T",
                        15 => "P",
                        18 => "E",
                        // Upstream finds no suffix and writes the bare number.
                        _ => "",
                    }
                    .to_string()
                };
                format!("{sign}{num}{suffix}")
            }
        }
    }
}

impl fmt::Display for Quantity {
    /// The string upstream serializes: the client's spelling when kept, else the canonical form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.original {
            Some(s) => f.write_str(s),
            None => f.write_str(&self.canonical()),
        }
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    /// Numeric order (`Quantity.Cmp`).
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.is_negative(), other.is_negative()) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.magnitude_cmp(other),
            (true, true) => other.magnitude_cmp(self),
        }
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

impl TryFrom<&k8s_openapi::apimachinery::pkg::api::resource::Quantity> for Quantity {
    type Error = QuantityError;
    /// Parses the string k8s-openapi carries, trimming spaces as upstream's JSON decoding does.
    fn try_from(
        q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity,
    ) -> Result<Self, Self::Error> {
        Quantity::parse(q.0.trim())
    }
}

impl From<&Quantity> for k8s_openapi::apimachinery::pkg::api::resource::Quantity {
    fn from(q: &Quantity) -> Self {
        k8s_openapi::apimachinery::pkg::api::resource::Quantity(q.to_string())
    }
}

/// Rewrites a k8s-openapi quantity in the form upstream would serialize it; leaves unparsable ones alone.
pub fn normalize(q: &mut k8s_openapi::apimachinery::pkg::api::resource::Quantity) {
    if let Ok(parsed) = Quantity::try_from(&*q) {
        q.0 = parsed.to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_upstream() {
        let cases = [
            ("0", "0"),
            ("0.5", "500m"),
            ("1000m", "1"),
            ("1024Ki", "1Mi"),
            ("1Ki", "1Ki"),
            ("1536Mi", "1536Mi"),
            ("0.5Gi", "512Mi"),
            ("1.5Gi", "1536Mi"),
            ("100m", "100m"),
            ("1000", "1k"),
            ("1", "1"),
            ("2", "2"),
            ("1e3", "1e3"),
            ("1.5e3", "1500"),
            ("12e6", "12e6"),
            ("1E", "1E"),
            ("1M", "1M"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("123Mi", "123Mi"),
            ("1Gi", "1Gi"),
            ("0.1", "100m"),
            ("0.0001", "100u"),
            ("1n", "1n"),
            ("0.0000000001", "1n"),
            ("+1", "+1"),
            ("010", "010"),
            ("-1", "-1"),
            ("-0", "0"),
            ("0.0", "0"),
            ("1.0", "1"),
            ("5.5", "5500m"),
            ("100Mi", "100Mi"),
            ("1024", "1024"),
            ("1023Ki", "1023Ki"),
            ("1024Mi", "1Gi"),
            ("0.5Ki", "512"),
            ("10Ei", "9223372036854775807"),
            ("1k", "1k"),
            ("1000k", "1M"),
            ("3000000m", "3k"),
        ];
        for (input, want) in cases {
            let q = Quantity::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(q.to_string(), want, "input {input}");
        }
    }

    #[test]
    fn rejects_as_upstream() {
        let cases = [
            ("", QuantityError::FormatWrong),
            ("abc", QuantityError::FormatWrong),
            ("1.2.3", QuantityError::FormatWrong),
            ("1K", QuantityError::Suffix),
            ("1e", QuantityError::Suffix),
            ("1Qi", QuantityError::FormatWrong),
            ("1 Gi", QuantityError::FormatWrong),
            ("1Gi1", QuantityError::Suffix),
        ];
        for (input, want) in cases {
            assert_eq!(Quantity::parse(input).err(), Some(want), "input {input:?}");
        }
        assert_eq!(
            QuantityError::FormatWrong.to_string(),
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );
    }

    #[test]
    fn values_round_up_away_from_zero() {
        let cases = [
            ("1", 1, 1000),
            ("500m", 1, 500),
            ("1.5", 2, 1500),
            ("1Ki", 1024, 1_024_000),
            ("1n", 1, 1),
            ("-1.5", -2, -1500),
            ("0", 0, 0),
            ("1e3", 1000, 1_000_000),
            ("100E", i64::MAX, i64::MAX),
        ];
        for (input, v, m) in cases {
            let q = Quantity::parse(input).unwrap();
            assert_eq!(q.value(), v, "value {input}");
            assert_eq!(q.milli_value(), m, "milli {input}");
        }
    }

    #[test]
    fn compares_numerically() {
        let p = |s| Quantity::parse(s).unwrap();
        assert!(p("500m") < p("1"));
        assert_eq!(p("1000m"), p("1"));
        assert_eq!(p("1Ki"), p("1024"));
        assert!(p("1Gi") > p("1G"));
        assert!(p("-1") < p("0"));
        assert!(p("-2") < p("-1"));
        assert_eq!(p("0"), p("-0"));
        assert!(p("1e3") > p("999"));
    }

    #[test]
    fn adds() {
        let p = |s| Quantity::parse(s).unwrap();
        assert_eq!(p("500m").add(&p("1")).to_string(), "1500m");
        assert_eq!(p("1Gi").add(&p("1Gi")).to_string(), "2Gi");
        assert_eq!(p("0").add(&p("2")).to_string(), "2");
        assert_eq!(p("1e3").add(&p("1n")).milli_value(), 1_000_001);
    }

    #[test]
    fn never_panics() {
        for s in [
            "1e999999999999",
            "1e-999999999",
            "9".repeat(200).as_str(),
            "0.",
            ".5",
            ".",
            "+",
            "1e+3",
            "--1",
            "1Ei",
        ] {
            let _ =
                Quantity::parse(s).map(|q| (q.to_string(), q.value(), q.milli_value(), q.as_f64()));
        }
        assert_eq!(Quantity::parse(".5").unwrap().to_string(), "500m");
        // Upstream reads a bare sign as zero.
        assert_eq!(Quantity::parse("-").unwrap().to_string(), "0");
        assert_eq!(Quantity::parse("1e+3").unwrap().to_string(), "1e+3");
    }

    #[test]
    fn converts_from_k8s_openapi() {
        let k = k8s_openapi::apimachinery::pkg::api::resource::Quantity("0.25".into());
        let q = Quantity::try_from(&k).unwrap();
        assert_eq!(q.milli_value(), 250);
        let mut k = k;
        normalize(&mut k);
        assert_eq!(k.0, "250m");
    }
}
