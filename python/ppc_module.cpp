//===- python/ppc_module.cpp - ppc._C, the runtime for Python ----*- C++ -*-===//
//
// A thin pybind11 binding of ppc::rt::Session (runtime/Session.h) for the
// package python/ppc: arguments are turned into IValues while the GIL is
// held, the runtime runs with the GIL released (its rank threads never need
// Python), and results come back as torch objects. Errors leave as one line:
// a bad argument as ValueError, anything else as RuntimeError.
//
//===----------------------------------------------------------------------===//
#include "runtime/Session.h"
#include "support/ErrorText.h"

#include <torch/csrc/jit/python/pybind_utils.h>
#include <torch/extension.h>

namespace py = pybind11;
using ppc::rt::Session;
using ppc::rt::SessionOptions;

namespace {

/// Runs `work` with the GIL released, its errors turned into one-line Python exceptions.
template <typename Fn> auto withoutGil(Fn &&work) -> decltype(work()) {
  try {
    py::gil_scoped_release released;
    return work();
  } catch (const py::error_already_set &) {
    throw;
  } catch (const std::invalid_argument &e) {
    throw py::value_error(ppc::errorSummary(e));
  } catch (const std::exception &e) {
    throw std::runtime_error(ppc::errorSummary(e));
  }
}

/// One model input as an IValue: a tensor, a bool, int or float, None, or a
/// tuple or list of them (a list of tensors or of ints only). pybind_utils'
/// general conversion calls libtorch_python internals that it does not export.
c10::IValue toValue(const py::handle &item) {
  py::detail::make_caster<at::Tensor> tensor;
  if (tensor.load(item, /*convert=*/false))
    return py::detail::cast_op<at::Tensor>(tensor);
  if (item.is_none())
    return c10::IValue();
  if (py::isinstance<py::bool_>(item))
    return item.cast<bool>();
  if (py::isinstance<py::int_>(item))
    return item.cast<int64_t>();
  if (py::isinstance<py::float_>(item))
    return item.cast<double>();
  if (py::isinstance<py::tuple>(item)) {
    std::vector<c10::IValue> elements;
    for (py::handle element : item)
      elements.push_back(toValue(element));
    return c10::ivalue::Tuple::create(std::move(elements));
  }
  if (py::isinstance<py::list>(item)) {
    c10::List<at::Tensor> tensors;
    c10::List<int64_t> ints;
    for (py::handle element : item) {
      c10::IValue value = toValue(element);
      if (value.isTensor() && ints.empty())
        tensors.push_back(value.toTensor());
      else if (value.isInt() && tensors.empty())
        ints.push_back(value.toInt());
      else
        throw std::invalid_argument("a list input holds tensors only or ints only");
    }
    return ints.empty() ? c10::IValue(tensors) : c10::IValue(ints);
  }
  throw std::invalid_argument("unsupported input type " +
                              py::str(py::type::handle_of(item)).cast<std::string>() +
                              " (a tensor, number, None, or a tuple or list of them)");
}

std::vector<c10::IValue> toValues(const py::sequence &items) {
  std::vector<c10::IValue> values;
  for (size_t i = 0; i < items.size(); ++i) {
    try {
      values.push_back(toValue(items[i]));
    } catch (const std::exception &e) {
      throw py::value_error("input " + std::to_string(i) + ": " + ppc::errorSummary(e));
    }
  }
  return values;
}

std::unique_ptr<Session> makeSession(const std::string &dir, int microbatches,
                                     const std::string &schedule, const std::string &loss,
                                     const std::string &device, double timeout, int64_t seed,
                                     int rank, int worldSize, int localRank,
                                     const std::string &masterAddr, int masterPort) {
  SessionOptions o;
  o.dir = dir;
  o.microbatches = microbatches;
  o.schedule = schedule;
  o.loss = loss;
  o.device = device;
  o.timeoutSec = timeout;
  o.seed = seed;
  o.rank = rank;
  o.worldSize = worldSize;
  o.localRank = localRank;
  o.masterAddr = masterAddr;
  o.masterPort = masterPort;
  return withoutGil([&] { return std::make_unique<Session>(o); });
}

py::list parameterList(Session &s) {
  py::list out;
  for (const ppc::rt::StageParameter &p : withoutGil([&] { return s.parameters(); }))
    out.append(py::make_tuple(p.stage, p.name, p.value, p.counted));
  return out;
}

} // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "ppc's pipeline runtime (see the ppc package)";
  py::class_<Session>(m, "Session")
      .def(py::init(&makeSession), py::arg("dir"), py::arg("microbatches"), py::arg("schedule"),
           py::arg("loss"), py::arg("device"), py::arg("timeout"), py::arg("seed"), py::arg("rank"),
           py::arg("world_size"), py::arg("local_rank"), py::arg("master_addr"),
           py::arg("master_port"))
      .def(
          "step",
          [](Session &s, const py::sequence &inputs, const at::Tensor &target) {
            std::vector<c10::IValue> values = toValues(inputs);
            return withoutGil([&] { return s.step(values, target); });
          },
          py::arg("inputs"), py::arg("target"))
      .def(
          "forward",
          [](Session &s, const py::sequence &inputs) {
            std::vector<c10::IValue> values = toValues(inputs);
            c10::IValue out = withoutGil([&] { return s.forward(values); });
            return torch::jit::toPyObject(std::move(out));
          },
          py::arg("inputs"))
      .def("parameters", &parameterList)
      .def(
          "set_parameter",
          [](Session &s, int stage, const std::string &name, const at::Tensor &value) {
            withoutGil([&] { s.setParameter(stage, name, value); });
          },
          py::arg("stage"), py::arg("name"), py::arg("value"))
      .def(
          "reduce",
          [](Session &s, const at::Tensor &value, bool max) {
            return withoutGil([&] { return s.reduce(value, max); });
          },
          py::arg("value"), py::arg("max"))
      .def(
          "save", [](Session &s, const std::string &dir) { withoutGil([&] { s.save(dir); }); },
          py::arg("dir"))
      .def_property_readonly("rank", &Session::rank)
      .def_property_readonly("world_size", &Session::worldSize)
      .def_property_readonly("num_stages", [](Session &s) { return s.manifest().numStages(); })
      .def_property_readonly("num_outputs", [](Session &s) { return s.manifest().outputs.size(); })
      .def_property_readonly("is_process_rank", &Session::isProcessRank);
}
