//===- frontend/LoadExport.h - Loading a torch.export archive ---*- C++ -*-===//
//
// Private to frontend/ and driver/: reads a `.pt2` written by
// torch.export.save into the same form the TorchScript path produces (a
// module holding the parameters under their qualified names, and a forward
// graph whose nodes carry module paths), so lowering, passes, codegen and the
// runtime need not know where the model came from.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_FRONTEND_LOADEXPORT_H
#define PPC_FRONTEND_LOADEXPORT_H

#include <string>

namespace ppc {

struct ModelImpl;

/// True for a zip archive whose archive_format record says "pt2".
bool isExportArchive(const std::string &path);

/// Fills `impl.module` (with a `forward`) and `impl.inlined` from the
/// archive at `impl.path`; CompileError on an unknown schema version and on
/// programs the IR cannot hold.
void loadExportedProgram(ModelImpl &impl);

} // namespace ppc

#endif
