//===- frontend/Naming.cpp - Names between LibTorch and the ppc IR --------===//
//
// The small mappings that loading, lowering and codegen all need: attribute
// chains from `self`, qualified names, dtype names and module-typed values.
// In a file of their own so that loading and lowering do not depend on each
// other for them.
//
//===----------------------------------------------------------------------===//
#include "frontend/ModelImpl.h"

#include <algorithm>
#include <cctype>

using namespace ppc;

std::optional<std::vector<std::string>> ppc::attributeChain(torch::jit::Value *v) {
  std::vector<std::string> parts;
  torch::jit::Value *self = v->owningGraph()->inputs().at(0);
  while (v != self) {
    torch::jit::Node *n = v->node();
    if (n->kind() != c10::prim::GetAttr)
      return std::nullopt;
    parts.push_back(n->s(c10::attr::name));
    v = n->input(0);
  }
  std::reverse(parts.begin(), parts.end());
  return parts;
}

/// A class-name atom: TorchScript rejects atoms that start with a digit.
std::string ppc::classAtom(const std::string &name) {
  std::string atom;
  for (char c : name)
    atom += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (atom.empty() || std::isdigit(static_cast<unsigned char>(atom[0])))
    atom = "_" + atom;
  return atom;
}

std::string ppc::joinPath(const std::vector<std::string> &parts) {
  std::string s;
  for (const std::string &p : parts)
    s += (s.empty() ? "" : ".") + p;
  return s;
}

std::string ppc::dtypeName(c10::ScalarType t) {
  switch (t) {
  case c10::kFloat:
    return "float32";
  case c10::kDouble:
    return "float64";
  case c10::kHalf:
    return "float16";
  case c10::kBFloat16:
    return "bfloat16";
  case c10::kLong:
    return "int64";
  case c10::kInt:
    return "int32";
  case c10::kShort:
    return "int16";
  case c10::kChar:
    return "int8";
  case c10::kByte:
    return "uint8";
  case c10::kBool:
    return "bool";
  default:
    return c10::toString(t);
  }
}

bool ppc::isModuleValue(const torch::jit::Value *v) {
  auto cls = v->type()->cast<c10::ClassType>();
  return cls && cls->is_module();
}
