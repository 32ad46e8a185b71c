// Images: PNG writing/reading, model output to 8-bit BGR, map resizing and colouring, labelled grids.
#pragma once
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

namespace diffscope {

/// Encodes `img` (8- or 16-bit, 1, 3 or 4 channels, BGR order) as PNG and writes it atomically.
/// Throws Error naming `path` for an empty/unsupported image or a failed write.
void write_png(const std::string& path, const cv::Mat& img);

/// The PNG file bytes of an 8/16-bit 1/3/4-channel image; Error naming `what` otherwise.
std::string encode_png(const cv::Mat& img, const std::string& what = "PNG");

/// Reads an image with cv::imread `flags` (default: 8-bit BGR). Throws Error naming `path` when it
/// is missing or not a readable image.
cv::Mat read_image(const std::string& path, int flags = cv::IMREAD_COLOR);

/// Model output [channels, height, width] in RGB (channels 1 or 3) to an 8-bit BGR image:
/// round_half_even(clamp((v - lo) / (hi - lo), 0, 1) * 255) in float32, as diffusers' numpy_to_pil does.
cv::Mat chw_to_bgr8(const float* chw_rgb, int channels, int height, int width, float lo = -1.f, float hi = 1.f);

/// Resizes a single-channel [h, w] map to [out_h, out_w] (bicubic, or bilinear when !bicubic;
/// half-pixel centres like torch's interpolate with align_corners=False); clamp01 clips to [0, 1].
std::vector<float> resize_map(const float* map, int h, int w, int out_h, int out_w, bool bicubic = true,
                              bool clamp01 = false);

/// Scales `v` in place to [0, 1] by its min and max; a constant (or empty) vector becomes zeros.
/// Non-finite entries are ignored for min/max and set to 0.
void normalize_minmax(std::vector<float>& v);

/// Colour maps for heatmaps.
enum class Colormap { Turbo, Jet, Viridis, Inferno, Gray };

/// Parses "turbo", "jet", "viridis", "inferno", "gray"/"grey" (any case). Throws Error listing the names.
Colormap parse_colormap(const std::string& name);
/// The lower-case name of `cm`.
std::string colormap_name(Colormap cm);

/// Colours an [h, w] map with values in [0, 1] (clipped; NaN as 0) into an 8-bit BGR image.
cv::Mat colorize(const float* map01, int h, int w, Colormap cm);

/// Blends `heat_bgr` (resized bilinearly to the base's size) over `base_bgr`:
/// (1 - alpha) * base + alpha * heat. Grey bases are converted to BGR. Returns 8-bit BGR.
cv::Mat overlay(const cv::Mat& base_bgr, const cv::Mat& heat_bgr, float alpha = 0.5f);

/// A labelled grid: rows of cells (each fitted into cell_px x cell_px, aspect kept, on white),
/// row labels in a left column (omitted when row_labels is empty), column labels in a top row
/// (omitted when col_labels is empty). Empty cells are drawn as light grey squares. Returns 8-bit BGR.
/// Throws Error when a label list is non-empty and its size disagrees with the cells.
cv::Mat grid(const std::vector<std::vector<cv::Mat>>& cells, const std::vector<std::string>& row_labels,
             const std::vector<std::string>& col_labels, int cell_px);

}  // namespace diffscope
