// apps/charts.cpp — see charts.hpp. Everything is drawn in one coordinate system (pixels, y down);
// each chart maps data to pixels with the small Axis helper below.
#include "apps/charts.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "model/checkpoint.hpp"

namespace tt::app {

namespace {

const char* const kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"};
const char* color(std::size_t i) { return kPalette[i % (sizeof(kPalette) / sizeof(kPalette[0]))]; }

std::string esc(const std::string& s) {  // XML text and attribute values
    std::string o;
    for (char c : s) {
        switch (c) {
            case '&': o += "&amp;"; break;
            case '<': o += "&lt;"; break;
            case '>': o += "&gt;"; break;
            case '"': o += "&quot;"; break;
            default: o += c;
        }
    }
    return o;
}

std::string num(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    std::string s = buf;
    return s == "-0" ? "0" : s;  // no "-0" tick labels
}

std::string px(double v) { return num(v, 1); }  // coordinates: 0.1 px is plenty

// Decimals that show ticks `step` apart without rounding two of them together.
int tick_decimals(double step) {
    int d = 0;
    while (d < 8 && std::fabs(step * std::pow(10.0, d) - std::round(step * std::pow(10.0, d))) > 1e-6 * std::pow(10.0, d)) ++d;
    return d;
}

// A tick step m · 10^e with m in {1, 2, 2.5, 5}, about span / target. Kept as (m, e) so that ticks are
// computed as k·m / 10^−e: one correctly rounded division, so 0.6 is 0.6 and not 0.6000000000000001.
struct Step {
    double m;
    int e;
    double value() const { return e >= 0 ? m * std::pow(10.0, e) : m / std::pow(10.0, -e); }
    double tick(int64_t k) const {
        const double km = static_cast<double>(k) * m;
        return e >= 0 ? km * std::pow(10.0, e) : km / std::pow(10.0, -e);
    }
};

Step nice_step(double span, int target) {
    const double raw = span / std::max(1, target);
    int e = static_cast<int>(std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 2.5, 5.0})
        if (Step{m, e}.value() >= raw * 0.999) return {m, e};
    return {1.0, e + 1};
}

// A data range mapped onto a pixel range, with its ticks.
struct Axis {
    double lo, hi;              // data
    double p0, p1;              // pixels (p0 <-> lo)
    std::vector<double> ticks;
    int decimals;
    double operator()(double v) const { return p0 + (v - lo) / (hi - lo) * (p1 - p0); }
};

Axis make_axis(double lo, double hi, double p0, double p1, int target, bool integers = false) {
    if (!(hi > lo)) {  // one value (or none): widen around it
        const double c = std::isfinite(lo) ? lo : 0.0, w = std::max(std::fabs(c) * 0.1, integers ? 1.0 : 0.1);
        lo = c - w;
        hi = c + w;
    }
    Step st = nice_step(hi - lo, target);
    if (integers && st.value() < 1.0) st = {1.0, 0};
    if (integers && st.m == 2.5 && st.e == 0) st.m = 2.0;  // integer ticks only (epochs)
    const double step = st.value();
    Axis a;
    const int64_t k0 = static_cast<int64_t>(std::floor(lo / step + 1e-9)), k1 = static_cast<int64_t>(std::ceil(hi / step - 1e-9));
    a.lo = st.tick(k0);
    a.hi = st.tick(k1);
    a.p0 = p0;
    a.p1 = p1;
    for (int64_t k = k0; k <= k1; ++k) a.ticks.push_back(st.tick(k));
    a.decimals = tick_decimals(step);
    return a;
}

// 18 px, or smaller so that a long title fits the width: a bold sans-serif glyph is ~0.62 em wide on
// average (DejaVu Sans Bold), never below 10 px (a title that long is cut, not made unreadable).
int title_font_size(const std::string& title, int width) {
    std::size_t glyphs = 0;
    for (unsigned char c : title) glyphs += (c & 0xC0) != 0x80;  // UTF-8: count code points, not bytes
    const double fit = (width - 40) / (0.62 * static_cast<double>(std::max<std::size_t>(glyphs, 1)));
    return static_cast<int>(std::clamp(fit, 10.0, 18.0));
}

void header(std::ostringstream& o, int width, int height, const std::string& title) {
    o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height << "\" viewBox=\"0 0 "
      << width << " " << height << "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
      << "<title>" << esc(title) << "</title>\n"
      << "<rect x=\"0\" y=\"0\" width=\"" << width << "\" height=\"" << height << "\" fill=\"white\"/>\n"
      << "<text x=\"" << width / 2 << "\" y=\"28\" text-anchor=\"middle\" font-size=\"" << title_font_size(title, width)
      << "\" font-weight=\"bold\">" << esc(title) << "</text>\n";
}

// A row of legend entries centred at y; returns nothing (entries are short run names).
void legend(std::ostringstream& o, const std::vector<std::string>& names, int width, double y, bool lines) {
    std::vector<double> w;
    double total = 0;
    for (const std::string& n : names) {
        w.push_back(28.0 + 7.5 * static_cast<double>(n.size()) + 18.0);  // swatch + text (≈7.5 px per char at 13 px)
        total += w.back();
    }
    double x = std::max(10.0, (width - total) / 2);
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (lines)
            o << "<line x1=\"" << px(x) << "\" y1=\"" << px(y) << "\" x2=\"" << px(x + 22) << "\" y2=\"" << px(y)
              << "\" stroke=\"" << color(i) << "\" stroke-width=\"3\"/>\n";
        else
            o << "<rect x=\"" << px(x + 5) << "\" y=\"" << px(y - 7) << "\" width=\"14\" height=\"14\" fill=\"" << color(i) << "\"/>\n";
        o << "<text x=\"" << px(x + 28) << "\" y=\"" << px(y + 4.5) << "\" font-size=\"13\">" << esc(names[i]) << "</text>\n";
        x += w[i];
    }
}

// Grid lines, tick labels and the frame of a plot area.
void axes(std::ostringstream& o, const Axis& xa, const Axis& ya, double left, double top, double right, double bottom,
          bool x_ticks) {
    for (double t : ya.ticks) {
        const double y = ya(t);
        o << "<line x1=\"" << px(left) << "\" y1=\"" << px(y) << "\" x2=\"" << px(right) << "\" y2=\"" << px(y)
          << "\" stroke=\"#dddddd\" stroke-width=\"1\"/>\n"
          << "<text x=\"" << px(left - 6) << "\" y=\"" << px(y + 4) << "\" text-anchor=\"end\" font-size=\"12\">" << num(t, ya.decimals)
          << "</text>\n";
    }
    if (x_ticks)
        for (double t : xa.ticks) {
            const double x = xa(t);
            o << "<line x1=\"" << px(x) << "\" y1=\"" << px(bottom) << "\" x2=\"" << px(x) << "\" y2=\"" << px(bottom + 5)
              << "\" stroke=\"#333333\"/>\n"
              << "<text x=\"" << px(x) << "\" y=\"" << px(bottom + 19) << "\" text-anchor=\"middle\" font-size=\"12\">"
              << num(t, xa.decimals) << "</text>\n";
        }
    o << "<rect x=\"" << px(left) << "\" y=\"" << px(top) << "\" width=\"" << px(right - left) << "\" height=\"" << px(bottom - top)
      << "\" fill=\"none\" stroke=\"#333333\" stroke-width=\"1\"/>\n";
}

void axis_labels(std::ostringstream& o, const std::string& x_label, const std::string& y_label, double left, double top,
                 double right, double bottom, double y_label_x) {
    if (!x_label.empty())
        o << "<text x=\"" << px((left + right) / 2) << "\" y=\"" << px(bottom + 40) << "\" text-anchor=\"middle\" font-size=\"13\">"
          << esc(x_label) << "</text>\n";
    if (!y_label.empty()) {
        const double cy = (top + bottom) / 2;
        o << "<text x=\"" << px(y_label_x) << "\" y=\"" << px(cy) << "\" text-anchor=\"middle\" font-size=\"13\" transform=\"rotate(-90 "
          << px(y_label_x) << " " << px(cy) << ")\">" << esc(y_label) << "</text>\n";
    }
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) { return make_axis(lo, hi, 0, 1, target).ticks; }

// ------------------------------------------------------------------------------------------------
// line panels

std::string svg_line_panels(const std::string& title, const std::vector<LinePanel>& panels, int width, int height) {
    std::ostringstream o;
    header(o, width, height, title);
    // Series are coloured by name, consistently across panels; a legend when there are several.
    std::vector<std::string> names;
    for (const LinePanel& p : panels)
        for (const Series& s : p.series)
            if (std::find(names.begin(), names.end(), s.name) == names.end()) names.push_back(s.name);
    const bool with_legend = names.size() > 1;
    if (with_legend) legend(o, names, width, 52, true);

    const double top = with_legend ? 96 : 72, bottom = height - 62.0;
    const double slot = static_cast<double>(width) / static_cast<double>(std::max<std::size_t>(1, panels.size()));
    for (std::size_t pi = 0; pi < panels.size(); ++pi) {
        const LinePanel& p = panels[pi];
        const double left = slot * static_cast<double>(pi) + 78, right = slot * static_cast<double>(pi + 1) - 22;
        double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
        bool integer_x = true;
        for (const Series& s : p.series)
            for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
                if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
                xlo = std::min(xlo, s.x[i]), xhi = std::max(xhi, s.x[i]);
                ylo = std::min(ylo, s.y[i]), yhi = std::max(yhi, s.y[i]);
                integer_x = integer_x && s.x[i] == std::round(s.x[i]);
            }
        if (!std::isfinite(xlo)) xlo = xhi = ylo = yhi = 0;
        const double pad = (yhi - ylo) * 0.05;
        Axis xa = make_axis(xlo, xhi, left + 14, right - 14, 8, integer_x);  // inset: no point sits on the frame
        Axis ya = make_axis(ylo - pad, yhi + pad, bottom, top, 5);
        o << "<text x=\"" << px((left + right) / 2) << "\" y=\"" << px(top - 12) << "\" text-anchor=\"middle\" font-size=\"15\" "
          << "font-weight=\"bold\">" << esc(p.title) << "</text>\n";
        axes(o, xa, ya, left, top, right, bottom, true);
        axis_labels(o, p.x_label, p.y_label, left, top, right, bottom, left - 58);
        for (const auto& [mx, label] : p.markers) {
            if (mx < xa.lo || mx > xa.hi) continue;
            const bool right_side = xa(mx) < (left + right) / 2;
            o << "<line x1=\"" << px(xa(mx)) << "\" y1=\"" << px(top) << "\" x2=\"" << px(xa(mx)) << "\" y2=\"" << px(bottom)
              << "\" stroke=\"#777777\" stroke-width=\"1.2\" stroke-dasharray=\"5,4\"/>\n"
              // the label on the side of the line with more room, so it never leaves the plot
              << "<text x=\"" << px(xa(mx) + (right_side ? 5 : -5)) << "\" y=\"" << px(top + 15) << "\" font-size=\"12\" fill=\"#555555\""
              << (right_side ? "" : " text-anchor=\"end\"") << ">" << esc(label) << "</text>\n";
        }
        for (const Series& s : p.series) {
            const std::size_t ci = static_cast<std::size_t>(std::find(names.begin(), names.end(), s.name) - names.begin());
            std::ostringstream pts;
            std::size_t n = 0;
            for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
                if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
                pts << (n++ ? " " : "") << px(xa(s.x[i])) << "," << px(ya(s.y[i]));
            }
            o << "<g class=\"series\" data-name=\"" << esc(s.name) << "\">\n";
            if (n > 1)
                o << "<polyline points=\"" << pts.str() << "\" fill=\"none\" stroke=\"" << color(ci)
                  << "\" stroke-width=\"2.2\" stroke-linejoin=\"round\"/>\n";
            for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
                if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]))
                    o << "<circle cx=\"" << px(xa(s.x[i])) << "\" cy=\"" << px(ya(s.y[i])) << "\" r=\"3.2\" fill=\"" << color(ci)
                      << "\"><title>" << esc(s.name) << ": " << num(s.x[i], xa.decimals) << ", " << num(s.y[i], 4)
                      << "</title></circle>\n";
            o << "</g>\n";
        }
    }
    o << "</svg>\n";
    return o.str();
}

// ------------------------------------------------------------------------------------------------
// grouped bars

std::string svg_grouped_bars(const std::string& title, const std::string& y_label, const std::vector<std::string>& groups,
                             const std::vector<std::string>& series_names, const std::vector<std::vector<double>>& values,
                             int width, int height) {
    std::ostringstream o;
    header(o, width, height, title);
    legend(o, series_names, width, 54, false);
    const double left = 82, right = width - 20.0, top = 84, bottom = height - 62.0;
    double vmax = 0;
    for (const auto& row : values)
        for (double v : row)
            if (std::isfinite(v)) vmax = std::max(vmax, v);
    Axis ya = make_axis(0, vmax > 0 ? vmax * 1.12 : 1.0, bottom, top, 6);  // headroom for the value labels
    ya.ticks.erase(std::remove_if(ya.ticks.begin(), ya.ticks.end(), [&](double t) { return t < 0; }), ya.ticks.end());
    Axis xa{0, 1, left, right, {}, 0};
    axes(o, xa, ya, left, top, right, bottom, false);
    axis_labels(o, "", y_label, left, top, right, bottom, left - 60);

    const std::size_t G = groups.size(), S = series_names.size();
    const double group_w = (right - left) / static_cast<double>(std::max<std::size_t>(1, G));
    const double bar_w = group_w * 0.8 / static_cast<double>(std::max<std::size_t>(1, S));
    const bool vertical_labels = bar_w < 40;  // too narrow for "0.123" across
    for (std::size_t g = 0; g < G; ++g) {
        const double g0 = left + group_w * static_cast<double>(g) + group_w * 0.1;
        o << "<text x=\"" << px(left + group_w * (static_cast<double>(g) + 0.5)) << "\" y=\"" << px(bottom + 22)
          << "\" text-anchor=\"middle\" font-size=\"14\">" << esc(groups[g]) << "</text>\n";
        for (std::size_t s = 0; s < S; ++s) {
            const double v = s < values.size() && g < values[s].size() ? values[s][g] : std::nan("");
            if (!std::isfinite(v)) continue;
            const double x = g0 + bar_w * static_cast<double>(s), y = ya(v);
            o << "<rect class=\"bar\" data-series=\"" << esc(series_names[s]) << "\" data-group=\"" << esc(groups[g]) << "\" x=\""
              << px(x + 1) << "\" y=\"" << px(y) << "\" width=\"" << px(bar_w - 2) << "\" height=\"" << px(bottom - y)
              << "\" fill=\"" << color(s) << "\"><title>" << esc(series_names[s]) << " " << esc(groups[g]) << ": " << num(v, 4)
              << "</title></rect>\n";
            const double cx = x + bar_w / 2;
            if (vertical_labels)
                o << "<text x=\"" << px(cx + 4) << "\" y=\"" << px(y - 4) << "\" font-size=\"11\" transform=\"rotate(-90 " << px(cx + 4)
                  << " " << px(y - 4) << ")\">" << num(v, 3) << "</text>\n";
            else
                o << "<text x=\"" << px(cx) << "\" y=\"" << px(y - 5) << "\" text-anchor=\"middle\" font-size=\"11\">" << num(v, 3)
                  << "</text>\n";
        }
    }
    o << "</svg>\n";
    return o.str();
}

// ------------------------------------------------------------------------------------------------
// gap chart

std::string svg_gap_chart(const std::string& title, const std::string& y_label, const std::string& x_label,
                          const std::vector<GapPoint>& points, const std::string& note, int width, int height) {
    std::ostringstream o;
    header(o, width, height, title);
    const double left = 96, right = width - 30.0, top = 64, bottom = height - (note.empty() ? 84.0 : 104.0);
    // The y range always includes 0: the question the chart answers is "is the gap above zero?"
    double lo = 0, hi = 0;
    for (const GapPoint& p : points)
        for (double v : {p.diff, p.ci_low, p.ci_high})
            if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    const double pad = (hi - lo) * 0.08;
    Axis ya = make_axis(lo - pad, hi + pad, bottom, top, 6);
    Axis xa{0, 1, left, right, {}, 0};
    axes(o, xa, ya, left, top, right, bottom, false);
    axis_labels(o, "", y_label, left, top, right, bottom, left - 70);
    if (!x_label.empty())
        o << "<text x=\"" << px((left + right) / 2) << "\" y=\"" << px(bottom + 58) << "\" text-anchor=\"middle\" font-size=\"13\">"
          << esc(x_label) << "</text>\n";
    if (!note.empty())
        o << "<text x=\"" << px((left + right) / 2) << "\" y=\"" << px(height - 14.0) << "\" text-anchor=\"middle\" font-size=\"12\" "
          << "fill=\"#555555\">" << esc(note) << "</text>\n";
    o << "<line x1=\"" << px(left) << "\" y1=\"" << px(ya(0)) << "\" x2=\"" << px(right) << "\" y2=\"" << px(ya(0))
      << "\" stroke=\"#333333\" stroke-width=\"1.2\" stroke-dasharray=\"6,4\"/>\n";

    const std::size_t n = points.size();
    const double slot = (right - left) / static_cast<double>(std::max<std::size_t>(1, n));
    auto cx = [&](std::size_t i) { return left + slot * (static_cast<double>(i) + 0.5); };
    // A thin line through the points: the eye follows the gap as the training share grows.
    std::ostringstream pts;
    std::size_t drawn = 0;
    for (std::size_t i = 0; i < n; ++i)
        if (std::isfinite(points[i].diff)) pts << (drawn++ ? " " : "") << px(cx(i)) << "," << px(ya(points[i].diff));
    if (drawn > 1)
        o << "<polyline points=\"" << pts.str() << "\" fill=\"none\" stroke=\"" << color(0)
          << "\" stroke-width=\"1.2\" stroke-opacity=\"0.45\"/>\n";
    for (std::size_t i = 0; i < n; ++i) {
        const GapPoint& p = points[i];
        const double x = cx(i);
        o << "<text x=\"" << px(x) << "\" y=\"" << px(bottom + 22) << "\" text-anchor=\"middle\" font-size=\"14\">" << esc(p.label)
          << "</text>\n";
        if (!p.sublabel.empty())
            o << "<text x=\"" << px(x) << "\" y=\"" << px(bottom + 39) << "\" text-anchor=\"middle\" font-size=\"12\" fill=\"#555555\">"
              << esc(p.sublabel) << "</text>\n";
        if (!std::isfinite(p.diff)) continue;
        const bool excludes_zero = std::isfinite(p.ci_low) && std::isfinite(p.ci_high) && (p.ci_low > 0 || p.ci_high < 0);
        std::ostringstream tip;
        tip << p.label << ": " << num(p.diff, 4) << " [" << num(p.ci_low, 4) << ", " << num(p.ci_high, 4) << "]";
        if (std::isfinite(p.p_value)) tip << ", p = " << num(p.p_value, 4);
        o << "<g class=\"gap\" data-label=\"" << esc(p.label) << "\">\n";
        if (std::isfinite(p.ci_low) && std::isfinite(p.ci_high)) {
            const double y0 = ya(p.ci_low), y1 = ya(p.ci_high);
            o << "<line x1=\"" << px(x) << "\" y1=\"" << px(y0) << "\" x2=\"" << px(x) << "\" y2=\"" << px(y1) << "\" stroke=\""
              << color(0) << "\" stroke-width=\"2\"/>\n";
            for (double y : {y0, y1})  // caps
                o << "<line x1=\"" << px(x - 9) << "\" y1=\"" << px(y) << "\" x2=\"" << px(x + 9) << "\" y2=\"" << px(y) << "\" stroke=\""
                  << color(0) << "\" stroke-width=\"2\"/>\n";
        }
        o << "<circle cx=\"" << px(x) << "\" cy=\"" << px(ya(p.diff)) << "\" r=\"5.5\" fill=\"" << (excludes_zero ? color(0) : "white")
          << "\" stroke=\"" << color(0) << "\" stroke-width=\"2\"><title>" << esc(tip.str()) << "</title></circle>\n";
        // The value beside the dot; p under it when known.
        std::string value = num(p.diff, 4);
        if (p.diff > 0) value.insert(0, 1, '+');
        o << "<text x=\"" << px(x + 12) << "\" y=\"" << px(ya(p.diff) + 4) << "\" font-size=\"12\">" << esc(value) << "</text>\n";
        if (std::isfinite(p.p_value))
            o << "<text x=\"" << px(x + 12) << "\" y=\"" << px(ya(p.diff) + 19) << "\" font-size=\"11\" fill=\"#555555\">"
              << (p.p_value < 0.001 ? std::string("p &lt; 0.001") : "p = " + num(p.p_value, 3)) << "</text>\n";
        o << "</g>\n";
    }
    o << "</svg>\n";
    return o.str();
}

// ------------------------------------------------------------------------------------------------
// run-directory readers

Curves read_curves(const std::string& path, const std::string& metric) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(path + ": cannot open (a run directory written by apps/train has metrics.jsonl)");
    std::map<double, std::pair<double, double>> by_epoch;  // a resumed run may repeat an epoch: keep the last
    std::string line;
    nlohmann::json last_valid;  // the last line's validation metrics, named in the error below
    int64_t n = 0, with_metric = 0;
    while (std::getline(in, line)) {
        ++n;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        const std::string where = path + ":" + std::to_string(n) + ": ";
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception& e) {
            throw std::runtime_error(where + "not a JSON line: " + e.what());
        }
        if (!j.is_object() || !j.contains("epoch") || !j["epoch"].is_number() || !j.contains("loss") || !j["loss"].is_number())
            throw std::runtime_error(where + "needs numbers 'epoch' and 'loss'");
        double valid = std::nan("");
        if (j.contains("valid") && j["valid"].is_object()) {
            if (j["valid"].contains(metric) && j["valid"][metric].is_number()) {
                valid = j["valid"][metric].get<double>();
                ++with_metric;
            }
            last_valid = std::move(j["valid"]);
        }
        by_epoch[j["epoch"].get<double>()] = {j["loss"].get<double>(), valid};
    }
    if (by_epoch.empty()) throw std::runtime_error(path + ": no epoch recorded yet");
    // A chart with an empty panel would look like a run that never validated: name what is there.
    if (with_metric == 0) {
        std::string names;
        for (const auto& [name, v] : last_valid.items())
            if (v.is_number() && name != "count") names += (names.empty() ? "" : ", ") + name;
        throw std::runtime_error(path + ": no epoch has the validation metric '" + metric + "'" +
                                 (names.empty() ? std::string(" (no validation recorded)") : " (it has: " + names + ")"));
    }
    Curves c;
    for (const auto& [e, lv] : by_epoch) {
        c.epoch.push_back(e);
        c.loss.push_back(lv.first);
        c.valid.push_back(lv.second);
    }
    return c;
}

std::map<std::string, double> read_run_metrics(const std::string& path, const std::string& part, const std::string& kind) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(model::read_file_bytes(path));
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(path + ": not valid JSON: " + e.what());
    }
    if (!j.is_object() || !j.contains(part) || !j[part].is_object() || !j[part].contains(kind) || !j[part][kind].is_object())
        throw std::runtime_error(path + ": no \"" + part + "\": {\"" + kind + "\": {...}} in it");
    std::map<std::string, double> out;
    for (auto it = j[part][kind].begin(); it != j[part][kind].end(); ++it)
        if (it->is_number()) out[it.key()] = it->get<double>();
    return out;
}

std::vector<GapPoint> read_gap_points(const std::string& path) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(model::read_file_bytes(path));
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(path + ": not valid JSON: " + e.what());
    }
    if (!j.is_array() || j.empty())
        throw std::runtime_error(path + ": expected a non-empty JSON array of {\"label\", \"diff\", \"ci_low\", \"ci_high\"}");
    std::vector<GapPoint> out;
    for (std::size_t i = 0; i < j.size(); ++i) {
        const nlohmann::json& e = j[i];
        const std::string where = path + ": entry " + std::to_string(i + 1) + ": ";
        if (!e.is_object() || !e.contains("label") || !e["label"].is_string())
            throw std::runtime_error(where + "needs a string \"label\"");
        GapPoint p;
        p.label = e["label"].get<std::string>();
        for (auto [key, field] : {std::pair{"diff", &p.diff}, std::pair{"ci_low", &p.ci_low}, std::pair{"ci_high", &p.ci_high}}) {
            if (!e.contains(key) || !e[key].is_number()) throw std::runtime_error(where + "needs a number \"" + key + "\"");
            *field = e[key].get<double>();
        }
        // (not ci_low <= diff: a percentile interval need not contain the point estimate)
        if (!(p.ci_low <= p.ci_high)) throw std::runtime_error(where + "ci_low is above ci_high");
        if (e.contains("sublabel")) {
            if (!e["sublabel"].is_string()) throw std::runtime_error(where + "\"sublabel\" must be a string");
            p.sublabel = e["sublabel"].get<std::string>();
        }
        if (e.contains("p_value")) {
            if (!e["p_value"].is_number()) throw std::runtime_error(where + "\"p_value\" must be a number");
            p.p_value = e["p_value"].get<double>();
        }
        out.push_back(p);
    }
    return out;
}

}  // namespace tt::app
