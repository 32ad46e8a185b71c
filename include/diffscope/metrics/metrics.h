// Metrics for attention maps, saliency and image similarity: sklearn/numpy/skimage/OpenCV-exact definitions.
// All arithmetic is in double; sums follow numpy's pairwise order so results match numpy to the last bits.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace diffscope::metrics {

/// A read-only view of `size` values (pointer + size); made implicitly from a std::vector or {ptr, n}.
template <typename T>
struct Span {
  const T* data = nullptr;
  size_t size = 0;
  Span() = default;
  Span(const T* p, size_t n) : data(p), size(n) {}
  Span(const std::vector<T>& v) : data(v.data()), size(v.size()) {}  // NOLINT: implicit on purpose
  const T& operator[](size_t i) const { return data[i]; }
  const T* begin() const { return data; }
  const T* end() const { return data + size; }
};

// Size mismatches, empty inputs (where a value needs data) and non-finite scores throw diffscope::Error.

// ---- sums and moments ----
/// numpy.sum of a float64 array: pairwise summation in blocks of 8 / 128, over 8192-element chunks.
double numpy_sum(Span<double> v);
/// Arithmetic mean (numpy.mean on the values as float64). Empty -> NaN.
double mean(Span<float> v);
double mean(Span<double> v);
/// Standard deviation with `ddof` (numpy.std; ddof 0 = population). Fewer than ddof+1 values -> NaN.
double stddev(Span<float> v, int ddof = 0);
double stddev(Span<double> v, int ddof = 0);

/// A two-sided interval.
struct Interval {
  double lo, hi;
};

/// Percentile bootstrap interval of the mean: `resamples` resamples of the n values drawn with replacement (index =
/// splitmix64 stream from `seed`, modulo n), each resample's mean, then numpy.percentile (linear) of those means at
/// (1 - level) / 2 and (1 + level) / 2. Fewer than 2 values -> {NaN, NaN}. Deterministic for a seed.
Interval bootstrap_mean_interval(Span<double> v, int resamples = 2000, uint64_t seed = 0x5eed, double level = 0.95);

// ---- ranking metrics (labels: positive when > 0.5) ----
/// Points of sklearn.metrics.roc_curve (drop_intermediate=True): fpr, tpr and thresholds
/// (thresholds[0] = max score + 1). fpr (tpr) is all NaN when there are no negatives (positives).
struct RocCurve {
  std::vector<double> fpr, tpr, thresholds;
};
RocCurve roc_curve(Span<float> scores, Span<float> labels);
/// Exactly sklearn.metrics.roc_auc_score (ties counted as half, as sklearn's curve does).
/// Labels of one class only: returns NaN (sklearn raises) and never throws.
double roc_auc(Span<float> scores, Span<float> labels);
/// sklearn.metrics.precision_recall_curve: precision and recall (with the final (1, 0) point),
/// thresholds in increasing order. No positives: recall is all 1 (as sklearn).
struct PrCurve {
  std::vector<double> precision, recall, thresholds;
};
PrCurve precision_recall_curve(Span<float> scores, Span<float> labels);
/// Exactly sklearn.metrics.average_precision_score: step-wise sum over distinct thresholds (ties grouped).
/// No positives: 0 (as sklearn 1.2, which warns); all positives: 1.
double average_precision(Span<float> scores, Span<float> labels);

/// Intersection over union of {map > threshold} (strict and in float32, as DAAM's expand_as /
/// plot_mask_heat_map compare a float32 tensor) and {mask > 0.5}. Both sets empty: 0 (DAAM divides by
/// union + 1e-8).
double iou(Span<float> map, Span<float> mask, double threshold);

/// Average ranks (1-based; ties get the mean of their ranks), as scipy.stats.rankdata(method="average").
std::vector<double> rankdata(Span<float> v);

// ---- correlations and distances ----
/// Pearson correlation (numpy.corrcoef); either input constant -> NaN.
double pearson(Span<float> a, Span<float> b);
double pearson(Span<double> a, Span<double> b);
/// Spearman rank correlation (Pearson of average ranks, scipy.stats.spearmanr); constant -> NaN.
double spearman(Span<float> a, Span<float> b);
/// Mean squared error.
double mse(Span<float> a, Span<float> b);
/// Peak signal-to-noise ratio 10 log10(data_range^2 / mse) in dB; identical inputs -> +inf.
double psnr(Span<float> a, Span<float> b, double data_range);
/// Cosine similarity a.b / (|a| |b|); a zero vector -> NaN.
double cosine(Span<float> a, Span<float> b);

/// Histogram of `values` over [lo, hi] in `bins` equal bins, exactly numpy.histogram(range=(lo, hi)) on
/// float64 values: last bin includes hi, values outside (and NaN) are dropped.
std::vector<double> histogram(Span<float> values, int bins, double lo, double hi);
/// OpenCV's HISTCMP_CORREL between two histograms: Pearson of the bins, but 1.0 when the
/// variance product is <= DBL_EPSILON (cv::compareHist's convention).
double histogram_correlation(Span<double> h1, Span<double> h2);

// ---- integrals ----
/// numpy.trapz(y, x): sum of (x[i+1] - x[i]) * (y[i+1] + y[i]) / 2. Fewer than 2 points -> 0.
double trapezoid(Span<double> x, Span<double> y);
/// numpy.trapz(y, dx=dx) for evenly spaced samples.
double trapezoid_dx(Span<double> y, double dx = 1.0);
/// (y - min y) / (max y - min y): a curve rescaled to [0, 1] by its own range; a constant y gives zeros.
std::vector<double> minmax_rescale(Span<double> y);

// ---- SSIM (Wang et al. 2004) ----
/// Mean SSIM and its components. Gaussian window sigma 1.5 truncated at 3.5 sigma (11 taps), reflected
/// borders, K1 = 0.01, K2 = 0.03, population covariances, the 5-pixel border cropped before averaging,
/// channels averaged: `ssim` equals skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
/// use_sample_covariance=False, data_range=R, channel_axis=...) on float64 images.
/// luminance = mean((2 mx my + C1) / (mx^2 + my^2 + C1)), contrast = mean((2 sx sy + C2) / (vx + vy + C2)),
/// structure = mean((vxy + C3) / (sx sy + C3)) with C3 = C2 / 2 (each mean over the same cropped pixels).
/// Images smaller than 11 pixels on a side are averaged over all pixels with scipy's "reflect" borders
/// (skimage refuses them; for larger images the crop makes the border mode irrelevant).
struct SsimParts {
  double ssim, luminance, contrast, structure;
};
/// `a`, `b`: h x w x channels values, planar (C, H, W) unless channels_last (H, W, C).
SsimParts ssim_parts(const float* a, const float* b, int h, int w, int channels, double data_range,
                     bool channels_last = false);
/// ssim_parts(...).ssim.
double ssim(const float* a, const float* b, int h, int w, int channels, double data_range,
            bool channels_last = false);

}  // namespace diffscope::metrics
