//===- driver/TimingSupport.cpp - What region and stage timing share ------===//
//
// See TimingSupport.h.
//
//===----------------------------------------------------------------------===//
#include "driver/TimingSupport.h"

#include <algorithm>

namespace ppc {

c10::IValue DeepCopy::operator()(const c10::IValue &v) {
  if (!v.isPtrType() || v.isString())
    return v;
  const void *key = v.internalToPointer();
  auto it = memo.find(key);
  if (it != memo.end())
    return it->second;
  c10::IValue copy = copyOf(v);
  memo.emplace(key, copy);
  return copy;
}

c10::IValue DeepCopy::copyOf(const c10::IValue &v) {
  if (v.isTensor())
    return tensor(v.toTensor());
  if (v.isTuple()) {
    std::vector<c10::IValue> items;
    for (const c10::IValue &e : v.toTupleRef().elements())
      items.push_back((*this)(e));
    return c10::ivalue::Tuple::create(std::move(items));
  }
  if (v.isList()) {
    c10::List<c10::IValue> list = v.toList();
    c10::impl::GenericList out(list.elementType());
    out.reserve(list.size());
    for (size_t i = 0; i < list.size(); ++i)
      out.push_back((*this)(list.get(i)));
    return out;
  }
  if (v.isGenericDict()) {
    c10::impl::GenericDict dict = v.toGenericDict();
    c10::impl::GenericDict out(dict.keyType(), dict.valueType());
    for (const auto &entry : dict) // keys are immutable (str, int, Tensor by identity)
      out.insert(entry.key(), (*this)(entry.value()));
    return out;
  }
  if (v.isObject())
    return v.toObject()->deepcopy();
  return v; // devices, streams, futures: nothing a region can change in place
}

at::Tensor DeepCopy::tensor(const at::Tensor &t) {
  at::Tensor copy = t.detach().clone();
  if (!leaves || !copy.is_floating_point())
    return copy;
  copy.requires_grad_(true);
  leaves->push_back(copy);
  return copy.clone();
}

std::vector<c10::IValue> copyAll(const std::vector<c10::IValue> &values,
                                 std::vector<at::Tensor> *leaves) {
  DeepCopy copy(leaves);
  std::vector<c10::IValue> out;
  for (const c10::IValue &v : values)
    out.push_back(copy(v));
  return out;
}

double median(std::vector<double> times) {
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

void differentiable(const c10::IValue &v, std::vector<at::Tensor> &out) {
  if (v.isTensor() && v.toTensor().defined() && v.toTensor().requires_grad())
    out.push_back(v.toTensor());
  else if (v.isTuple())
    for (const c10::IValue &e : v.toTupleRef().elements())
      differentiable(e, out);
  else if (v.isList())
    for (const c10::IValue &e : v.toListRef())
      differentiable(e, out);
  else if (v.isGenericDict())
    for (const auto &entry : v.toGenericDict())
      differentiable(entry.value(), out);
}

std::vector<OpRange> regions(const Graph &g, const std::vector<unsigned> &boundaries) {
  std::vector<unsigned> cuts(boundaries);
  cuts.push_back(0);
  cuts.push_back(g.ops().size());
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  std::vector<OpRange> out;
  for (size_t i = 0; i + 1 < cuts.size(); ++i)
    if (cuts[i] < cuts[i + 1] && cuts[i + 1] <= g.ops().size())
      out.push_back({cuts[i], cuts[i + 1]});
  return out;
}

} // namespace ppc
