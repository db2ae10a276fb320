// apps/charts.hpp — SVG charts written by tttrec itself (no plotting library): line panels for
// learning curves, grouped bars for comparing runs, a gap chart (a paired difference with its
// confidence interval under several split protocols), plus the readers of a run directory's
// metrics.jsonl and test.json that apps/plot draws from.
//
// The SVG is plain SVG 1.1 text (no scripts, no external fonts or files), so browsers, image
// viewers and GitHub render it as is. Axes get "nice" ticks (1, 2, 2.5, 5 × 10^k); colours are the
// Okabe–Ito palette, which stays distinguishable for colour-blind readers.
#pragma once

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tt::app {

struct Series {
    std::string name;
    std::vector<double> x, y;
};

struct LinePanel {
    std::string title, x_label, y_label;
    std::vector<Series> series;
    std::vector<std::pair<double, std::string>> markers;  // dashed vertical lines at x, with a label
};

// Panels side by side, one shared legend (when there is more than one series name). -> SVG text
std::string svg_line_panels(const std::string& title, const std::vector<LinePanel>& panels, int width = 1000, int height = 440);

// Grouped bars: values[s][g] is bar s of group g (NaN: no bar). Each bar carries its value.
std::string svg_grouped_bars(const std::string& title, const std::string& y_label, const std::vector<std::string>& groups,
                             const std::vector<std::string>& series_names, const std::vector<std::vector<double>>& values,
                             int width = 1000, int height = 480);

// One point of a gap chart: the paired difference B - A of two models under one protocol, with
// its confidence interval (data/significance.hpp).
struct GapPoint {
    std::string label;     // on the x axis: "1:2:7", "leave-one-out"
    std::string sublabel;  // under it, e.g. "train 10%" (may be empty)
    double diff = 0, ci_low = 0, ci_high = 0;
    double p_value = std::numeric_limits<double>::quiet_NaN();  // shown when finite
};

// Points in the given order along a categorical x axis (one per protocol, e.g. by growing
// training share), each a dot at diff with a vertical CI bar; a dashed line at 0. A point whose
// interval excludes 0 is filled, one whose interval contains 0 is hollow. -> SVG text
std::string svg_gap_chart(const std::string& title, const std::string& y_label, const std::string& x_label,
                          const std::vector<GapPoint>& points, const std::string& note = "", int width = 860, int height = 500);

// gaps.json: a JSON array of {"label": "3:2:5", "diff": d, "ci_low": l, "ci_high": h} with optional
// "sublabel" and "p_value". Throws std::runtime_error naming the file and the entry on bad input.
std::vector<GapPoint> read_gap_points(const std::string& path);

// "Nice" axis ticks covering [lo, hi]: about `target` round values. Returned ascending.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

// metrics.jsonl of a run: training loss and one validation metric by epoch (a repeated epoch, as
// after a resume, keeps its last line). Throws std::runtime_error naming file:line on bad lines.
struct Curves {
    std::vector<double> epoch, loss, valid;
};
Curves read_curves(const std::string& path, const std::string& metric);

// test.json of a run: the metrics of `part` ("test" | "valid") and `kind` ("full" | "sampled_100" ...).
std::map<std::string, double> read_run_metrics(const std::string& path, const std::string& part, const std::string& kind);

}  // namespace tt::app
