// apps/runner.hpp — the experiment library behind apps/train, apps/eval and apps/recommend, one
// concern per file (this header only gathers them):
//   run_config.hpp    the options of a run and its config.json
//   data_setup.hpp    dataset and split from the data options
//   evaluation.hpp    metrics of a model (or popularity) on examples
//   trainer.hpp       the epoch loop, run directories, resume, load_run
//   resume_state.hpp  the after-every-epoch state that train --resume continues from
//   progress.hpp      the progress line
// apps/ is the only layer that sees both model/ and data/.
#pragma once

#include "apps/data_setup.hpp"
#include "apps/evaluation.hpp"
#include "apps/run_config.hpp"
#include "apps/trainer.hpp"
