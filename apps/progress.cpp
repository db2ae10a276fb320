// apps/progress.cpp — see progress.hpp.
#include "apps/progress.hpp"

#include <unistd.h>

#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>

namespace tt::app {

Progress::Progress(std::ostream& log, bool quiet) : log_(log), quiet_(quiet), tty_(::isatty(2) && &log == &std::cerr) {}

void Progress::update(int epoch, int64_t step, int64_t steps, double loss, double seq_per_s, double eta_s) {
    if (quiet_) return;
    auto now = std::chrono::steady_clock::now();
    double since = std::chrono::duration<double>(now - last_).count();
    if (!tty_ && since < 5.0 && step != steps) return;
    if (tty_ && since < 0.1 && step != steps) return;
    last_ = now;
    std::ostringstream os;
    os << "epoch " << epoch << " ";
    if (tty_) {
        int width = 24, fill = steps ? static_cast<int>(width * step / steps) : width;
        os << "[" << std::string(static_cast<std::size_t>(fill), '#') << std::string(static_cast<std::size_t>(width - fill), '.') << "] ";
    }
    os << step << "/" << steps << " loss " << std::fixed << std::setprecision(4) << loss << " " << std::setprecision(0)
       << seq_per_s << " seq/s ETA " << eta_s << "s";
    if (tty_)
        log_ << "\r" << os.str() << "\033[K" << std::flush;
    else
        log_ << os.str() << "\n";
}

void Progress::end_line() {
    if (tty_ && !quiet_) log_ << "\n";
}

}  // namespace tt::app
