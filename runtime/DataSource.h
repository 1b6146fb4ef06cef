//===- runtime/DataSource.h - A batch for every training step ---*- C++ -*-===//
//
// pprun --data: where step k's inputs and targets come from, the same on
// every rank (each reads them itself, so nothing is sent). A token file is a
// flat binary array of N token ids (uint16 or int32, native byte order, as
// nanoGPT writes them); step k reads the B*T+1 tokens at offset
// (k*B*T) mod (N - B*T), or with a shuffle seed S at
// mt19937_64(S + k)() mod (N - B*T); inputs are the first B*T as a (B, T)
// int64 tensor, targets the last B*T. A directory holds torch.save files
// {"inputs": (...), "targets": tensor} taken in sorted name order, step k
// from file k mod n. Steps count from the run's start, resumed steps too.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_DATASOURCE_H
#define PPC_RUNTIME_DATASOURCE_H

#include <ATen/core/ivalue.h>

#include <memory>
#include <string>
#include <vector>

namespace ppc::rt {

struct DataOptions {
  std::string path;             // a token file or a directory of batch files; "": none
  std::string dtype = "uint16"; // of a token file: uint16 | int32
  int64_t seq = 0, batch = 0;   // T and B of a token file
  int64_t shuffleSeed = -1;     // -1: consecutive windows
};

/// One step's whole batch, before microbatching.
struct Batch {
  std::vector<c10::IValue> inputs;
  at::Tensor targets;
  std::string origin; // for errors: "'dir/0003.pt'" or "tokens 4096..4160 of 'train.bin'"
};

class DataSource {
public:
  virtual ~DataSource() = default;
  /// The batch of step `step` (from 0); safe to call from several threads.
  virtual Batch batch(int64_t step) const = 0;
  /// Tokens per batch (B*T) for a token file, 0 for batch files.
  virtual int64_t tokensPerBatch() const { return 0; }
};

/// Opens `o.path`; throws std::runtime_error with one clear line when it is
/// missing, too short, empty or `o.dtype` is not a token type.
std::unique_ptr<DataSource> openDataSource(const DataOptions &o);

/// The first token of step `step`'s window in a file of `tokens` tokens.
int64_t tokenOffset(int64_t step, int64_t tokens, int64_t perBatch, int64_t shuffleSeed);

} // namespace ppc::rt

#endif
