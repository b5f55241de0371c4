// One bind_* function per concept, each in its own file, called by module.cc.
#pragma once

#include <pybind11/pybind11.h>

namespace ferry::python {

void bind_errors(pybind11::module_& m);
void bind_future(pybind11::module_& m);
void bind_cluster(pybind11::module_& m);
void bind_memory(pybind11::module_& m);
void bind_engine(pybind11::module_& m);
void bind_collectives(pybind11::module_& m);
void bind_kv(pybind11::module_& m);
void bind_weights(pybind11::module_& m);
void bind_pipeline(pybind11::module_& m);
void bind_moe(pybind11::module_& m);

}  // namespace ferry::python
