//! The estimators of the leak judgement: pure functions of numbers, tested
//! on synthetic series.
//!
//! - [`theil_sen`], [`theil_sen_blocks`]: the median of the pairwise slopes
//!   (Sen 1968), robust to up to 29% outliers.
//! - [`mann_kendall`], [`mann_kendall_blocks`]: the Mann–Kendall test for an
//!   increasing trend (Mann 1945, Kendall 1975), with ties, per block.
//! - [`best_step`], [`line_sse`], [`step_fits_better`]: is a series a one-off
//!   jump rather than a trend?
//!
//! Hand-written: each is a few lines, and no well-kept crate offers
//! Theil–Sen or Mann–Kendall with ties and blocks over plain `f64` pairs.

/// A straight line `y = intercept + slope × x`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Slope, y units per x unit.
    pub slope: f64,
    /// Value at x = 0.
    pub intercept: f64,
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let n = v.len();
    let cmp = |a: &f64, b: &f64| a.total_cmp(b);
    let (_, hi, _) = v.select_nth_unstable_by(n / 2, cmp);
    let hi = *hi;
    if n % 2 == 1 {
        return Some(hi);
    }
    let lo = v[..n / 2].iter().copied().max_by(cmp).unwrap_or(hi);
    Some((lo + hi) / 2.0)
}

/// Theil–Sen line through `points` (x, y): the median of pairwise slopes
/// (pairs with equal x are skipped) and the median of `y − slope·x`.
/// `None` with fewer than two distinct x.
pub fn theil_sen(points: &[(f64, f64)]) -> Option<Fit> {
    theil_sen_blocks(&[points])
}

/// Theil–Sen over several blocks: slopes only between points of the same
/// block (a restarted process is compared with itself), one median.
pub fn theil_sen_blocks(blocks: &[&[(f64, f64)]]) -> Option<Fit> {
    let mut slopes = Vec::new();
    for b in blocks {
        for (i, (x1, y1)) in b.iter().enumerate() {
            for (x2, y2) in &b[i + 1..] {
                if x2 != x1 {
                    slopes.push((y2 - y1) / (x2 - x1));
                }
            }
        }
    }
    let slope = median(&mut slopes)?;
    // The intercept of the last block: where the series is now.
    let last = blocks.iter().rev().find(|b| !b.is_empty())?;
    let mut rest: Vec<f64> = last.iter().map(|(x, y)| y - slope * x).collect();
    Some(Fit { slope, intercept: median(&mut rest)? })
}

/// The Mann–Kendall test for a monotonic trend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannKendall {
    /// Number of values.
    pub n: usize,
    /// `S = Σ sign(y_j − y_i)`, i < j.
    pub s: i64,
    /// Variance of S under no trend, with the tie correction.
    pub var_s: f64,
    /// Normal score with continuity correction (0 when S = 0 or no variance).
    pub z: f64,
    /// Kendall's tau: S over the number of pairs (−1 … 1).
    pub tau: f64,
    /// One-sided p-value for an increasing trend: P(Z ≥ z) under no trend.
    pub p_increasing: f64,
}

/// Mann–Kendall on values in time order.
pub fn mann_kendall(ys: &[f64]) -> MannKendall {
    mann_kendall_blocks(&[ys])
}

/// Mann–Kendall over independent blocks: S and Var(S) summed.
pub fn mann_kendall_blocks(blocks: &[&[f64]]) -> MannKendall {
    let mut s: i64 = 0;
    let mut var = 0.0f64;
    let mut n = 0usize;
    let mut pairs = 0f64;
    for ys in blocks {
        let m = ys.len();
        n += m;
        pairs += (m * m.saturating_sub(1)) as f64 / 2.0;
        for i in 0..m {
            for j in i + 1..m {
                s += match ys[j].partial_cmp(&ys[i]) {
                    Some(std::cmp::Ordering::Greater) => 1,
                    Some(std::cmp::Ordering::Less) => -1,
                    _ => 0,
                };
            }
        }
        let mf = m as f64;
        let mut ties_term = 0.0;
        let mut sorted: Vec<f64> = ys.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mut i = 0;
        while i < sorted.len() {
            let mut j = i + 1;
            while j < sorted.len() && sorted[j] == sorted[i] {
                j += 1;
            }
            let t = (j - i) as f64;
            if t > 1.0 {
                ties_term += t * (t - 1.0) * (2.0 * t + 5.0);
            }
            i = j;
        }
        var += (mf * (mf - 1.0) * (2.0 * mf + 5.0) - ties_term) / 18.0;
    }
    let z = if var <= 0.0 || s == 0 {
        0.0
    } else if s > 0 {
        (s as f64 - 1.0) / var.sqrt()
    } else {
        (s as f64 + 1.0) / var.sqrt()
    };
    let p_increasing = if var <= 0.0 { 1.0 } else { 1.0 - normal_cdf(z) };
    MannKendall { n, s, var_s: var, z, tau: if pairs > 0.0 { s as f64 / pairs } else { 0.0 }, p_increasing }
}

/// The standard normal distribution function.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// Complementary error function, fractional error below 1.2e-7
/// (Numerical Recipes, 2nd ed., §6.2, Chebyshev fit).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// The best single step: where it is (index of the first point after it),
/// the jump, and the residual sum of squares of the two-level fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Index of the first point of the upper (or lower) level.
    pub at: usize,
    /// Mean after minus mean before.
    pub jump: f64,
    /// Residual sum of squares of the two-level fit.
    pub sse: f64,
}

/// Least-squares residual sum of squares of a straight line through `pts`.
pub fn line_sse(pts: &[(f64, f64)]) -> f64 {
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return 0.0;
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = pts.iter().map(|p| (p.1 - my).powi(2)).sum();
    if sxx == 0.0 { syy } else { (syy - sxy * sxy / sxx).max(0.0) }
}

/// The best two-level fit with each level at least `min_len` points long.
pub fn best_step(ys: &[f64], min_len: usize) -> Option<Step> {
    let n = ys.len();
    let min_len = min_len.max(1);
    if n < 2 * min_len {
        return None;
    }
    // Shift by the first value: sums of squares of large byte counts lose
    // precision otherwise.
    let base = ys[0];
    let mut sum = vec![0.0; n + 1];
    let mut sq = vec![0.0; n + 1];
    for (i, y) in ys.iter().enumerate() {
        let d = y - base;
        sum[i + 1] = sum[i] + d;
        sq[i + 1] = sq[i] + d * d;
    }
    let sse = |a: usize, b: usize| {
        let m = (b - a) as f64;
        let s = sum[b] - sum[a];
        (sq[b] - sq[a] - s * s / m).max(0.0)
    };
    (min_len..=n - min_len)
        .map(|k| {
            let before = (sum[k] - sum[0]) / k as f64;
            let after = (sum[n] - sum[k]) / (n - k) as f64;
            Step { at: k, jump: after - before, sse: sse(0, k) + sse(k, n) }
        })
        .min_by(|a, b| a.sse.total_cmp(&b.sse))
}

/// True when `pts` is a one-off jump: one step explains it better than a
/// straight line, and the levels before and after it are flat (each drifts
/// by less than a quarter of the jump), so it is neither steady growth nor
/// growth that levelled off.
pub fn step_fits_better(pts: &[(f64, f64)]) -> bool {
    let ys: Vec<f64> = pts.iter().map(|p| p.1).collect();
    match best_step(&ys, (pts.len() / 10).max(3)) {
        Some(step) => step.sse < line_sse(pts) && flat_around(pts, &step),
        None => false,
    }
}

/// Do the levels on both sides of `step` stay flat?
pub(super) fn flat_around(pts: &[(f64, f64)], step: &Step) -> bool {
    let drift = |side: &[(f64, f64)]| match (theil_sen(side), side.first(), side.last()) {
        (Some(f), Some(a), Some(b)) => (f.slope * (b.0 - a.0)).abs(),
        _ => 0.0,
    };
    let limit = step.jump.abs() / 4.0;
    drift(&pts[..step.at]) < limit && drift(&pts[step.at..]) < limit
}
