// data/data.hpp — one include for the whole data library (namespace tt::data):
//   dataset.hpp   Dataset, IdMap, LoadOptions, load_dataset, DataError
//   split.hpp     Example, Split, make_leave_one_out, make_ratio_split
//   batch.hpp     Batch, BatchOptions, make_batch, BatchIterator, NegativeSampler
//   metrics.hpp   RankingMetrics (full and sampled ranking; HR/NDCG/MRR)
//   synthetic.hpp generate_synthetic (drifting-topic users)
//   throughput.hpp measure_load_throughput (for apps/bench)
//   reader.hpp / cache.hpp are the lower layers (formats, streaming, binary cache).
#pragma once

#include "data/batch.hpp"
#include "data/cache.hpp"
#include "data/dataset.hpp"
#include "data/metrics.hpp"
#include "data/reader.hpp"
#include "data/split.hpp"
#include "data/synthetic.hpp"
#include "data/throughput.hpp"
