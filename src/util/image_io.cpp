// PNG writing/reading and conversion of model output (CHW RGB floats) to displayable 8-bit BGR.
#include <cmath>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>

#include "diffscope/util/atomic_file.h"
#include "diffscope/util/error.h"
#include "diffscope/util/image.h"

#include <fcntl.h>
#include <unistd.h>

#include <mutex>

namespace diffscope {

std::string encode_png(const cv::Mat& img, const std::string& what) {
  if (img.empty()) throw Error(what + ": cannot write an empty image", kExitFailure);
  int depth = img.depth();
  int ch = img.channels();
  if ((depth != CV_8U && depth != CV_16U) || (ch != 1 && ch != 3 && ch != 4)) {
    throw Error(what + ": PNG needs an 8- or 16-bit image with 1, 3 or 4 channels", kExitFailure);
  }
  std::vector<uchar> buf;
  bool ok = false;
  try {
    ok = cv::imencode(".png", img, buf);
  } catch (const cv::Exception& e) {
    throw Error(what + ": PNG encoding failed (" + e.msg + ")", kExitFailure);
  }
  if (!ok) throw Error(what + ": PNG encoding failed", kExitFailure);
  return std::string(buf.begin(), buf.end());
}

void write_png(const std::string& path, const cv::Mat& img) { write_file_atomic(path, encode_png(img, path)); }

namespace {
std::mutex& stderr_mutex() {
  static std::mutex m;
  return m;
}

/// Sends stderr (fd 2) to /dev/null while it lives, and restores it on every path out.
class SilencedStderr {
 public:
  SilencedStderr() : lock_(stderr_mutex()), saved_(::dup(2)), null_fd_(::open("/dev/null", O_WRONLY)) {
    if (saved_ >= 0 && null_fd_ >= 0) ::dup2(null_fd_, 2);
  }
  ~SilencedStderr() {
    if (saved_ >= 0) ::dup2(saved_, 2), ::close(saved_);
    if (null_fd_ >= 0) ::close(null_fd_);
  }
  SilencedStderr(const SilencedStderr&) = delete;
  SilencedStderr& operator=(const SilencedStderr&) = delete;

 private:
  std::lock_guard<std::mutex> lock_;
  int saved_, null_fd_;
};
}  // namespace

cv::Mat read_image(const std::string& path, int flags) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": cannot be read as an image (no such file)");
  cv::Mat img;
  try {
    // libpng and libjpeg print their own complaints on stderr before OpenCV returns an empty image; the one-line
    // error below says it, so theirs is silenced while decoding
    const SilencedStderr quiet;
    img = cv::imread(path, flags);
  } catch (const cv::Exception& e) {  // OpenCV's own text (file, line, assertion) is not for the user
    const bool too_large = e.msg.find("CV_IO_MAX_IMAGE_PIXELS") != std::string::npos ||
                           e.msg.find("validateInputImageSize") != std::string::npos;
    throw Error(path + (too_large ? ": cannot be read as an image (its header declares a size beyond 2^30 pixels)"
                                  : ": cannot be read as an image (damaged, or not PNG/JPEG/...)"));
  }
  if (img.empty()) throw Error(path + ": cannot be read as an image (damaged, or not PNG/JPEG/...)");
  return img;
}

cv::Mat chw_to_bgr8(const float* chw_rgb, int channels, int height, int width, float lo, float hi) {
  if (channels != 1 && channels != 3) {
    throw Error("image conversion: expected 1 or 3 channels, got " + std::to_string(channels), kExitFailure);
  }
  if (height <= 0 || width <= 0 || !(hi > lo)) {
    throw Error("image conversion: expected a positive size and hi > lo", kExitFailure);
  }
  const float scale = 1.f / (hi - lo);
  const float offset = -lo * scale;  // for [-1, 1]: v * 0.5 + 0.5, exactly diffusers' v / 2 + 0.5
  cv::Mat out(height, width, CV_8UC3);
  const size_t plane = static_cast<size_t>(height) * width;
  for (int y = 0; y < height; ++y) {
    auto* row = out.ptr<cv::Vec3b>(y);
    for (int x = 0; x < width; ++x) {
      size_t i = static_cast<size_t>(y) * width + x;
      for (int c = 0; c < 3; ++c) {
        float v = chw_rgb[(channels == 1 ? 0 : c) * plane + i] * scale + offset;
        v = std::isnan(v) ? 0.f : std::min(1.f, std::max(0.f, v));
        row[x][2 - c] = static_cast<uchar>(std::nearbyint(v * 255.f));  // RGB -> BGR, round half to even
      }
    }
  }
  return out;
}

}  // namespace diffscope
