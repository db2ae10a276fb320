// apps/progress.hpp — the progress line of a training epoch: a bar redrawn in place when the log
// is a terminal, a plain line every few seconds otherwise (logs of background runs stay short).
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>

namespace tt::app {

class Progress {
public:
    Progress(std::ostream& log, bool quiet);
    void update(int epoch, int64_t step, int64_t steps, double loss, double seq_per_s, double eta_s);
    void end_line();

private:
    std::ostream& log_;
    bool quiet_, tty_;
    std::chrono::steady_clock::time_point last_{};
};

}  // namespace tt::app
