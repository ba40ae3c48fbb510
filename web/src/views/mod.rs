//! The playground's panels, each drawing part of a [`Frame`](crate::session::Frame).

pub mod code;
pub mod compare;
pub mod controls;
pub mod events;
pub mod free_area;
pub mod holders;
pub mod icons;
pub mod legend;
pub mod lesson;
pub mod memory_map;
pub mod pcp;
pub mod plots;

/// `x` rounded to a whole number, as `format!("{x:.0}")` prints it.
pub fn whole(x: f64) -> String {
    fixed(x, x, 0.0, 0)
}

/// `x` with one decimal, as `format!("{x:.1}")` prints it.
pub fn tenths(x: f64) -> String {
    // x * 10 as x * 8 + x * 2 (both exact), and the sum's rounding error by Knuth's two-sum, so
    // the rounding below sees the exact product.
    let (a, b) = (x * 8.0, x * 2.0);
    let sum = a + b;
    let b_part = sum - a;
    fixed(x, sum, (a - (sum - b_part)) + (b - b_part), 1)
}

/// What `{:.N}` prints for `x`, given `x * 10^places` as `scaled + error` (exactly): the exact value
/// rounded, ties to even. The standard library's float formatting (exact and shortest algorithms
/// with their tables, about 15 KB of the wasm) is left out of the build for the few numbers the
/// panels show. Exact while |x| is below 10^14 (then the product is below 2^52, where every
/// rounding boundary is a double); the panels' numbers are far smaller.
fn fixed(x: f64, scaled: f64, error: f64, places: usize) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN"
        } else if x > 0.0 {
            "inf"
        } else {
            "-inf"
        }
        .to_owned();
    }
    let rounded = if (scaled - scaled.trunc()).abs() == 0.5 && error != 0.0 {
        // A tie after the multiplication that the exact product is not.
        if error > 0.0 {
            scaled.ceil()
        } else {
            scaled.floor()
        }
    } else {
        scaled.round_ties_even()
    };
    let digits = (rounded.abs() as u64).to_string();
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if places == 0 {
        return format!("{sign}{digits}");
    }
    let digits = format!("{digits:0>width$}", width = places + 1);
    let (whole, fraction) = digits.split_at(digits.len() - places);
    format!("{sign}{whole}.{fraction}")
}

#[cfg(test)]
mod tests {
    use super::{tenths, whole};

    /// Every number the panels show: percentages, SVG coordinates, simulated ns, counter
    /// differences; ties, near-ties, negatives and zeros among them.
    #[test]
    fn whole_and_tenths_print_what_the_standard_formatting_prints() {
        let mut samples =
            vec![0.0, -0.0, 0.25, 0.05, 0.15, 2.5, 3.5, -2.5, -0.25, -0.04, 99.95, 1e13 + 0.25, 1e14 - 0.05];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let quarter = (state % 40_000) as f64 / 4.0 - 5_000.0;
            let any = f64::from_bits(state) % 1e6;
            let ratio = (state % 1000) as f64 / ((state >> 32) % 999 + 1) as f64 * 100.0;
            samples.extend([quarter, quarter / 10.0, any, ratio]);
        }
        for x in samples.into_iter().filter(|x| x.is_finite()) {
            assert_eq!(tenths(x), format!("{x:.1}"), "{x:e}");
            assert_eq!(whole(x), format!("{x:.0}"), "{x:e}");
        }
        assert_eq!(
            (tenths(f64::NAN), whole(f64::INFINITY), tenths(f64::NEG_INFINITY)),
            ("NaN".into(), "inf".into(), "-inf".into())
        );
    }
}
