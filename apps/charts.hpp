// apps/charts.hpp — SVG charts written by tttrec itself (no plotting library): line panels for
// learning curves and grouped bars for comparing runs, plus the readers of a run directory's
// metrics.jsonl and test.json that apps/plot draws from.
//
// The SVG is plain SVG 1.1 text (no scripts, no external fonts or files), so browsers, image
// viewers and GitHub render it as is. Axes get "nice" ticks (1, 2, 2.5, 5 × 10^k); colours are the
// Okabe–Ito palette, which stays distinguishable for colour-blind readers.
#pragma once

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
