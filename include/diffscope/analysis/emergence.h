// Visual-concept emergence: each step's decoded x0 against the final image on colour, layout, structure and
// detail, plus SSIM and PSNR (the coarse-to-fine picture of what the model has decided at each step).
#pragma once
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace diffscope {

struct EmergenceRow {
  int step = 0;
  double colour = 0;          ///< correlation of 32-bin per-channel colour histograms
  double layout = 0;          ///< Pearson of the low-frequency band (grey image area-downsampled to 1/8)
  double structure = 0;       ///< Pearson of Sobel edge magnitudes
  double detail_ratio = 0;    ///< high-frequency energy of x0 / of the final image (high = grey - Gaussian blur)
  double detail_corr = 0;     ///< Pearson of the high-frequency bands
  double ssim = 0, psnr = 0;  ///< on RGB in [0,255]
};

/// Compares two BGR 8-bit images of the same size.
EmergenceRow compare_to_final(const cv::Mat& x0_bgr, const cv::Mat& final_bgr);

/// The concept columns, in table order.
std::vector<std::string> emergence_columns();
std::vector<double> emergence_values(const EmergenceRow& r);

}  // namespace diffscope
