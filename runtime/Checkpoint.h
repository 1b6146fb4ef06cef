//===- runtime/Checkpoint.h - Training checkpoints on disk ------*- C++ -*-===//
//
// A checkpoint is a stages directory (stage files, pipeline.json, ir.txt, so
// pprun and ppc merge take it as it is) plus optimizer/rank<r>.pt (each
// rank's optimizer state) and trainer.json (the steps done and the options a
// resume must match). It is written atomically across ranks: rank 0 makes a
// fresh sibling DIR.tmp, every rank writes its files there and tells rank 0,
// which adds the manifest and trainer.json and swaps the new directory into
// place (renameat2 RENAME_EXCHANGE where the file system has it), so a rank
// dying mid-write leaves the previous checkpoint whole. The ranks must share
// the file system.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_CHECKPOINT_H
#define PPC_RUNTIME_CHECKPOINT_H

#include "runtime/Training.h"

#include <nlohmann/json.hpp>

#include <string>

namespace ppc::rt {

/// Whether `dir` holds a checkpoint pprun wrote (it has trainer.json).
bool isCheckpoint(const std::string &dir);

/// `dir`'s trainer.json; throws naming `dir` when it is not a checkpoint.
nlohmann::json readTrainerState(const std::string &dir);

/// The file of rank `rank`'s optimizer state in checkpoint `dir`.
std::string optimizerFile(const std::string &dir, int rank);

/// Writes a checkpoint of this rank's stages and optimizer into `dir`;
/// every rank calls it with the same `state` (trainer.json, holding "step").
/// `sourceDir` is where pipeline.json and ir.txt come from.
void writeCheckpoint(const std::string &dir, const std::string &sourceDir, Trainer &trainer,
                     Transport &transport, const nlohmann::json &state);

} // namespace ppc::rt

#endif
