//===- runtime/ValueCodec.cpp - A value as structure plus raw tensors ------===//
//
// Markers are tuples whose first item names them: ("__t", index, dtype,
// sizes) for a tensor, ("__tl" or "__l", [items]) for a tensor or generic
// list, ("__d", [keys], [values]) for a dict. Undefined tensors travel as
// None, which the stages read as an absent optional.
//
//===----------------------------------------------------------------------===//
#include "runtime/ValueCodec.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/serialization/pickle.h>

namespace ppc::rt {

c10::IValue flattenValue(const c10::IValue &v, std::vector<at::Tensor> &tensors) {
  if (v.isTensor()) {
    const at::Tensor &t = v.toTensor();
    if (!t.defined())
      return c10::IValue();
    tensors.push_back(t.contiguous());
    return c10::ivalue::Tuple::create({std::string("__t"), int64_t(tensors.size() - 1),
                                       int64_t(t.scalar_type()), c10::List<int64_t>(t.sizes())});
  }
  if (v.isTuple()) {
    std::vector<c10::IValue> items;
    for (const auto &e : v.toTupleRef().elements())
      items.push_back(flattenValue(e, tensors));
    return c10::ivalue::Tuple::create(std::move(items));
  }
  if (v.isList()) {
    c10::impl::GenericList items(c10::AnyType::get());
    for (const auto &e : v.toListRef())
      items.push_back(flattenValue(e, tensors));
    return c10::ivalue::Tuple::create({std::string(v.isTensorList() ? "__tl" : "__l"), items});
  }
  if (v.isGenericDict()) {
    c10::impl::GenericList keys(c10::AnyType::get()), values(c10::AnyType::get());
    for (const auto &item : v.toGenericDict()) {
      keys.push_back(item.key());
      values.push_back(flattenValue(item.value(), tensors));
    }
    return c10::ivalue::Tuple::create({std::string("__d"), keys, values});
  }
  return v;
}

static bool isMarker(const c10::IValue &v, const char *tag) {
  if (!v.isTuple())
    return false;
  const auto &items = v.toTupleRef().elements();
  return !items.empty() && items[0].isString() && items[0].toStringRef() == tag;
}

c10::IValue unflattenValue(const c10::IValue &skel, const std::vector<at::Tensor> &tensors) {
  if (isMarker(skel, "__t"))
    return tensors.at(skel.toTupleRef().elements()[1].toInt());
  if (isMarker(skel, "__tl")) {
    c10::List<at::Tensor> list;
    for (const auto &e : skel.toTupleRef().elements()[1].toListRef())
      list.push_back(unflattenValue(e, tensors).toTensor());
    return list;
  }
  if (isMarker(skel, "__l")) {
    c10::impl::GenericList list(c10::AnyType::get());
    for (const auto &e : skel.toTupleRef().elements()[1].toListRef())
      list.push_back(unflattenValue(e, tensors));
    return list;
  }
  if (isMarker(skel, "__d")) {
    const auto &items = skel.toTupleRef().elements();
    c10::impl::GenericDict dict(c10::AnyType::get(), c10::AnyType::get());
    auto keys = items[1].toListRef(), values = items[2].toListRef();
    for (size_t i = 0; i < keys.size(); ++i)
      dict.insert(keys[i], unflattenValue(values[i], tensors));
    return dict;
  }
  if (skel.isTuple()) {
    std::vector<c10::IValue> items;
    for (const auto &e : skel.toTupleRef().elements())
      items.push_back(unflattenValue(e, tensors));
    return c10::ivalue::Tuple::create(std::move(items));
  }
  return skel;
}

static void allocateInto(const c10::IValue &skel, c10::Device device,
                         std::vector<at::Tensor> &out) {
  if (isMarker(skel, "__t")) {
    const auto &items = skel.toTupleRef().elements();
    size_t index = size_t(items[1].toInt());
    if (out.size() <= index)
      out.resize(index + 1);
    out[index] =
        at::empty(items[3].toIntVector(),
                  at::TensorOptions().dtype(at::ScalarType(items[2].toInt())).device(device));
  } else if (skel.isTuple()) {
    for (const auto &e : skel.toTupleRef().elements())
      allocateInto(e, device, out);
  } else if (skel.isList()) {
    for (const auto &e : skel.toListRef())
      allocateInto(e, device, out);
  }
}

std::vector<at::Tensor> allocateTensors(const c10::IValue &structure, c10::Device device) {
  std::vector<at::Tensor> out;
  allocateInto(structure, device, out);
  return out;
}

std::string structureBytes(const c10::IValue &structure) {
  std::vector<char> bytes = torch::jit::pickle(structure);
  return std::string(bytes.begin(), bytes.end());
}

c10::IValue structureFromBytes(const char *data, size_t size) {
  return torch::jit::unpickle(data, size);
}

} // namespace ppc::rt
