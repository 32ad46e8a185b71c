// The cairo drawing layer (see canvas.h).
#include "util/canvas.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <cstring>
#include <memory>

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <opencv2/imgproc.hpp>
#include <zlib.h>

#include "diffscope/util/atomic_file.h"
#include "diffscope/util/error.h"
#include "diffscope/util/plot.h"
#include "diffscope/util/xml.h"

namespace diffscope::fig {

namespace {

constexpr const char* kFace = "DejaVu Sans";
// A fixed date for the PDF's CreationDate/ModDate: the same figure gives the same bytes.
constexpr const char* kPdfDate = "2000-01-01T00:00:00Z";
// The capitals' middle sits this far (in em) above the baseline (DejaVu Sans: cap height 0.73 em).
constexpr double kCapMiddle = 0.365;

/// Unhinted outlines and metrics, grey antialiasing: every surface lays text out alike.
void set_font_options(cairo_t* cr) {
  cairo_font_options_t* fo = cairo_font_options_create();
  cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
  cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
  cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
  cairo_set_font_options(cr, fo);
  cairo_font_options_destroy(fo);
}

void select_font(cairo_t* cr, Font f) {
  cairo_select_font_face(cr, kFace, CAIRO_FONT_SLANT_NORMAL, f.bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, f.size);
}

/// A per-thread context on a 1 x 1 surface for measuring text.
cairo_t* measurer() {
  struct Holder {
    cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1);
    cairo_t* cr = cairo_create(s);
    Holder() { set_font_options(cr); }
    ~Holder() {
      cairo_destroy(cr);
      cairo_surface_destroy(s);
    }
  };
  thread_local Holder h;
  return h.cr;
}

void set_rgb(cairo_t* cr, Rgb c, double alpha) {
  cairo_set_source_rgba(cr, c.r / 255.0, c.g / 255.0, c.b / 255.0, alpha);
}

Rgb bgr_at(const cv::Mat& m) {
  const cv::Vec3b v = m.at<cv::Vec3b>(0, 0);
  return {v[2], v[1], v[0]};
}

cairo_status_t append(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

void check(cairo_status_t st, const std::string& what) {
  if (st != CAIRO_STATUS_SUCCESS) throw Error(what + ": cairo: " + cairo_status_to_string(st), kExitFailure);
}

std::vector<double> bar_ticks(double h, const ColourScale& s) {
  std::vector<double> t = nice_ticks(s.lo, s.hi, std::max(2, static_cast<int>(h / 22)));
  if (t.size() < 2) t = {s.lo, s.hi};
  return t;
}

constexpr Font kTickFont{6.0, false}, kBarLabelFont{6.0, false};

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

/// The SVG's invisible text layer: each text drawn, at its place, so that the words are in the document.
std::string text_layer(const std::vector<TextItem>& items) {
  std::string o = "<g id=\"text\" fill-opacity=\"0\" stroke=\"none\" font-family=\"DejaVu Sans\">\n";
  for (const auto& t : items) {
    o += "<text transform=\"translate(" + num(t.x) + " " + num(t.y) + ")";
    if (t.angle != 0) o += " rotate(" + num(-t.angle) + ")";
    o += "\" y=\"" + num(kCapMiddle * t.size) + "\" font-size=\"" + num(t.size) + "\"";
    if (t.bold) o += " font-weight=\"bold\"";
    if (t.anchor != Anchor::Left) o += t.anchor == Anchor::Centre ? " text-anchor=\"middle\"" : " text-anchor=\"end\"";
    o += ">" + xml_escape(t.text) + "</text>\n";
  }
  return o + "</g>\n";
}

/// cairo names some SVG elements after process-wide counters (id="surface51"): the same figure drawn later in a run
/// would differ. Renumbers each such id (and its #references) in the order of first appearance.
std::string stable_ids(const std::string& svg) {
  static const char* const kPrefixes[] = {"surface", "image", "pattern", "source", "mask"};
  std::map<std::string, std::string> renamed;
  std::map<std::string, int> next;
  std::string out;
  out.reserve(svg.size());
  size_t i = 0;
  while (i < svg.size()) {
    const char prev = i > 0 ? svg[i - 1] : '\0';
    bool done = false;
    if (prev == '"' || prev == '#') {
      for (const char* p : kPrefixes) {
        const size_t n = std::strlen(p);
        if (svg.compare(i, n, p) != 0) continue;
        size_t j = i + n;
        while (j < svg.size() && std::isdigit(static_cast<unsigned char>(svg[j]))) ++j;
        if (j == i + n || j >= svg.size() || (svg[j] != '"' && svg[j] != ')')) continue;
        const std::string key = svg.substr(i, j - i);
        auto it = renamed.find(key);
        if (it == renamed.end()) it = renamed.emplace(key, p + std::to_string(++next[p])).first;
        out += it->second;
        i = j;
        done = true;
        break;
      }
    }
    if (!done) out += svg[i++];
  }
  return out;
}

}  // namespace

double text_width(const std::string& text, Font f) {
  if (text.empty()) return 0;
  cairo_t* cr = measurer();
  select_font(cr, f);
  cairo_text_extents_t e;
  cairo_text_extents(cr, text.c_str(), &e);
  return e.x_advance;
}

std::string fit(const std::string& text, Font f, double max_w) {
  if (text_width(text, f) <= max_w) return text;
  std::string t = text;
  while (!t.empty() && text_width(t + "...", f) > max_w) {
    t.pop_back();
    while (!t.empty() && (static_cast<unsigned char>(t.back()) & 0xC0) == 0x80) t.pop_back();  // whole UTF-8 chars
    if (!t.empty() && static_cast<unsigned char>(t.back()) >= 0xC0) t.pop_back();
  }
  return t.empty() ? std::string() : t + "...";
}

std::vector<std::string> wrap(const std::string& text, Font f, double max_w) {
  std::vector<std::string> lines;
  std::string line, word;
  auto flush_word = [&] {
    if (word.empty()) return;
    const std::string joined = line.empty() ? word : line + " " + word;
    if (line.empty() || text_width(joined, f) <= max_w) {
      line = joined;
    } else {
      lines.push_back(fit(line, f, max_w));
      line = word;
    }
    word.clear();
  };
  for (char ch : text) {
    if (ch == ' ') flush_word();
    else word += ch;
  }
  flush_word();
  if (!line.empty()) lines.push_back(fit(line, f, max_w));
  return lines;
}

std::string tick_label(double v, double step) {
  char buf[64];
  if (std::abs(v) < step * 1e-9) v = 0;
  if (std::abs(v) >= 1e6 || (step < 1e-4 && v != 0)) {
    std::snprintf(buf, sizeof(buf), "%.3g", v);
  } else {
    int digits = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
    std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  }
  return buf;
}

void Canvas::colour(Rgb c, double alpha) { set_rgb(cr_, c, alpha); }

void Canvas::line(double x0, double y0, double x1, double y1, double width, Rgb c, bool dashed) {
  cairo_save(cr_);
  set_rgb(cr_, c, 1);
  cairo_set_line_width(cr_, width);
  if (dashed) {
    const double d[] = {3 * width, 2 * width};
    cairo_set_dash(cr_, d, 2, 0);
  }
  cairo_move_to(cr_, x0, y0);
  cairo_line_to(cr_, x1, y1);
  cairo_stroke(cr_);
  cairo_restore(cr_);
}

void Canvas::fill_rect(double x, double y, double w, double h, Rgb c, double alpha) {
  set_rgb(cr_, c, alpha);
  cairo_rectangle(cr_, x, y, w, h);
  cairo_fill(cr_);
}

void Canvas::stroke_rect(double x, double y, double w, double h, double width, Rgb c) {
  set_rgb(cr_, c, 1);
  cairo_set_line_width(cr_, width);
  cairo_rectangle(cr_, x, y, w, h);
  cairo_stroke(cr_);
}

void Canvas::text(const std::string& t, double x, double y, Font f, Anchor a, Rgb c, double angle) {
  if (t.empty()) return;
  const double tw = text_width(t, f);
  cairo_save(cr_);
  select_font(cr_, f);
  set_rgb(cr_, c, 1);
  cairo_translate(cr_, x, y);
  if (angle != 0) cairo_rotate(cr_, -angle * M_PI / 180.0);
  cairo_move_to(cr_, a == Anchor::Left ? 0 : a == Anchor::Centre ? -tw / 2 : -tw, kCapMiddle * f.size);
  cairo_show_text(cr_, t.c_str());
  cairo_new_path(cr_);
  cairo_restore(cr_);
  if (record_) record_->push_back({x, y, f.size, f.bold, a, angle, t});
}

double Canvas::title(const std::string& t, double y, Font f) {
  for (const auto& l : wrap(t, f, w_ - 8)) {
    text(l, w_ / 2, y + f.size * 0.5, f, Anchor::Centre);
    y += f.size * 1.25;
  }
  return y;
}

void Canvas::image(const cv::Mat& img, double x, double y, double w, double h, bool nearest) {
  if (img.empty() || w <= 0 || h <= 0) return;
  cv::Mat bgra;
  cv::Mat m = img;
  if (m.depth() != CV_8U) m.convertTo(m, CV_8U, m.depth() == CV_16U ? 1.0 / 257 : 255.0);
  if (m.channels() == 1) cv::cvtColor(m, bgra, cv::COLOR_GRAY2BGRA);
  else if (m.channels() == 3) cv::cvtColor(m, bgra, cv::COLOR_BGR2BGRA);
  else bgra = m.clone();
  // CAIRO_FORMAT_RGB24 is B, G, R, unused in memory on little-endian machines: the BGRA bytes row by row
  cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, bgra.cols, bgra.rows);
  cairo_surface_flush(s);
  unsigned char* data = cairo_image_surface_get_data(s);
  const int stride = cairo_image_surface_get_stride(s);
  for (int r = 0; r < bgra.rows; ++r) std::memcpy(data + static_cast<size_t>(r) * stride, bgra.ptr(r), bgra.cols * 4u);
  cairo_surface_mark_dirty(s);
  cairo_save(cr_);
  cairo_rectangle(cr_, x, y, w, h);
  cairo_clip(cr_);
  cairo_translate(cr_, x, y);
  cairo_scale(cr_, w / bgra.cols, h / bgra.rows);
  cairo_set_source_surface(cr_, s, 0, 0);
  cairo_pattern_t* p = cairo_get_source(cr_);
  cairo_pattern_set_filter(p, nearest ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
  cairo_pattern_set_extend(p, CAIRO_EXTEND_PAD);
  cairo_paint(cr_);
  cairo_restore(cr_);
  cairo_surface_destroy(s);
}

double Canvas::colour_bar_width(double w, double h, const ColourScale& s) {
  const auto ticks = bar_ticks(h, s);
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
  double tw = 0;
  for (double t : ticks) tw = std::max(tw, text_width(tick_label(t, step), kTickFont));
  return w + 2.5 + 1.5 + tw + (s.label.empty() ? 0 : 2 + kBarLabelFont.size * 1.2);
}

void Canvas::colour_bar(double x, double y, double w, double h, const ColourScale& s) {
  cairo_pattern_t* g = cairo_pattern_create_linear(0, y + h, 0, y);
  constexpr int kStops = 64;
  for (int i = 0; i <= kStops; ++i) {
    const float u = static_cast<float>(i) / kStops;
    const Rgb c = bgr_at(colorize(&u, 1, 1, s.colormap));
    cairo_pattern_add_color_stop_rgb(g, u, c.r / 255.0, c.g / 255.0, c.b / 255.0);
  }
  cairo_rectangle(cr_, x, y, w, h);
  cairo_set_source(cr_, g);
  cairo_fill(cr_);
  cairo_pattern_destroy(g);
  stroke_rect(x, y, w, h, 0.5, kFrame);
  const auto ticks = bar_ticks(h, s);
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
  double tw = 0;
  for (double t : ticks) {
    const double ty = y + h - (t - s.lo) / (s.hi - s.lo) * h;
    line(x + w, ty, x + w + 2.5, ty, 0.5, kFrame);
    const std::string l = tick_label(t, step);
    tw = std::max(tw, text_width(l, kTickFont));
    text(l, x + w + 4, std::clamp(ty, y + 2.5, y + h - 2.5), kTickFont);
  }
  if (!s.label.empty())
    text(fit(s.label, kBarLabelFont, h), x + w + 4 + tw + 2 + kBarLabelFont.size * 0.6, y + h / 2, kBarLabelFont,
         Anchor::Centre, kInk, 90);
}

cv::Mat render_bgr(double width_pt, double height_pt, double px_per_pt, const DrawFn& draw) {
  const int w = static_cast<int>(std::lround(width_pt * px_per_pt)), h = static_cast<int>(std::lround(height_pt * px_per_pt));
  if (w <= 0 || h <= 0) throw Error("figure: empty page", kExitFailure);
  cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  cairo_t* cr = cairo_create(s);
  set_font_options(cr);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_scale(cr, px_per_pt, px_per_pt);
  Canvas c(cr, width_pt, height_pt, nullptr);
  draw(c);
  const cairo_status_t st = cairo_status(cr);
  cairo_destroy(cr);
  cairo_surface_flush(s);
  cv::Mat out;
  if (st == CAIRO_STATUS_SUCCESS) {
    const cv::Mat bgra(h, w, CV_8UC4, cairo_image_surface_get_data(s), static_cast<size_t>(cairo_image_surface_get_stride(s)));
    cv::cvtColor(bgra, out, cv::COLOR_BGRA2BGR);
  }
  cairo_surface_destroy(s);
  check(st, "figure (image)");
  return out;
}

namespace {
/// Draws one figure onto a stream surface (PDF or SVG; white ground first when `paint_white`), finishes and frees
/// the surface, and checks both statuses: Error naming `what`.
void draw_on_stream(cairo_surface_t* s, double width_pt, double height_pt, const DrawFn& draw,
                    std::vector<TextItem>* texts, bool paint_white, const char* what) {
  cairo_t* cr = cairo_create(s);
  set_font_options(cr);
  if (paint_white) {
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
  }
  Canvas c(cr, width_pt, height_pt, texts);
  draw(c);
  const cairo_status_t st = cairo_status(cr);
  cairo_destroy(cr);
  cairo_surface_finish(s);
  const cairo_status_t sst = cairo_surface_status(s);
  cairo_surface_destroy(s);
  check(st, what);
  check(sst, what);
}
}  // namespace

std::string render_pdf(double width_pt, double height_pt, const DrawFn& draw, const std::string& title) {
  std::string bytes;
  cairo_surface_t* s = cairo_pdf_surface_create_for_stream(append, &bytes, width_pt, height_pt);
  cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATE_DATE, kPdfDate);
  cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_MOD_DATE, kPdfDate);
  cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR, "diffscope");
  if (!title.empty()) cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, title.c_str());
  draw_on_stream(s, width_pt, height_pt, draw, nullptr, false, "figure (PDF)");
  return bytes;
}

std::string render_svg(double width_pt, double height_pt, const DrawFn& draw) {
  std::string bytes;
  std::vector<TextItem> texts;
  cairo_surface_t* s = cairo_svg_surface_create_for_stream(append, &bytes, width_pt, height_pt);
  draw_on_stream(s, width_pt, height_pt, draw, &texts, true, "figure (SVG)");
  const size_t end = bytes.rfind("</svg>");
  if (end == std::string::npos) throw Error("figure (SVG): cairo wrote no </svg>", kExitFailure);
  bytes.insert(end, text_layer(texts));
  return stable_ids(bytes);
}

std::string encode_png_dpi(const cv::Mat& bgr, double dpi) {
  std::string png = encode_png(bgr, "figure");
  // a pHYs chunk (pixels per metre, unit 1) right after IHDR (8-byte signature + 25-byte IHDR chunk)
  const uint32_t ppm = static_cast<uint32_t>(std::lround(dpi / 0.0254));
  unsigned char chunk[4 + 4 + 9 + 4] = {0, 0, 0, 9, 'p', 'H', 'Y', 's'};
  for (int k = 0; k < 2; ++k)
    for (int b = 0; b < 4; ++b) chunk[8 + 4 * k + b] = static_cast<unsigned char>(ppm >> (24 - 8 * b));
  chunk[16] = 1;
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), chunk + 4, 4 + 9);
  for (int b = 0; b < 4; ++b) chunk[17 + b] = static_cast<unsigned char>(crc >> (24 - 8 * b));
  if (png.size() < 33 || png.compare(12, 4, "IHDR") != 0) throw Error("figure: unexpected PNG layout", kExitFailure);
  png.insert(33, reinterpret_cast<const char*>(chunk), sizeof chunk);
  return png;
}

void write_figure(const std::string& png_path, double width_pt, double height_pt, const DrawFn& draw,
                  const std::string& title, double dpi) {
  const std::string stem = figure_stem(png_path);
  write_file_atomic(png_path, encode_png_dpi(render_bgr(width_pt, height_pt, dpi / kPtPerIn, draw), dpi));
  write_file_atomic(stem + ".pdf", render_pdf(width_pt, height_pt, draw, title));
  write_file_atomic(stem + ".svg", render_svg(width_pt, height_pt, draw));
}

MatPainter::MatPainter(cv::Mat& bgr) : target_(bgr) {
  cv::cvtColor(bgr, bgra_, cv::COLOR_BGR2BGRA);
  surface_ = cairo_image_surface_create_for_data(bgra_.data, CAIRO_FORMAT_RGB24, bgra_.cols, bgra_.rows,
                                                 static_cast<int>(bgra_.step));
  cr_ = cairo_create(surface_);
  set_font_options(cr_);
  canvas_ = new Canvas(cr_, bgra_.cols, bgra_.rows, nullptr);
}

MatPainter::~MatPainter() {
  delete canvas_;
  cairo_destroy(cr_);
  cairo_surface_flush(surface_);
  cairo_surface_destroy(surface_);
  cv::cvtColor(bgra_, target_, cv::COLOR_BGRA2BGR);
}

}  // namespace diffscope::fig

namespace diffscope {
std::string figure_stem(const std::string& png_path) {
  std::string s = png_path;
  if (s.size() > 4 && s.compare(s.size() - 4, 4, ".png") == 0) s.resize(s.size() - 4);
  return s;
}
}  // namespace diffscope
