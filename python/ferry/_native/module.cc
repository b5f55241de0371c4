// The _ferry extension module: the C++ half of the ferry package. ferry/__init__.py
// re-exports it with the pure-Python parts (errors, asyncio, helpers).
#include <pybind11/pybind11.h>

#include "python/ferry/_native/bindings.h"

PYBIND11_MODULE(_ferry, m) {
  m.doc() = "ferry's transfer engine, workloads and fabrics (the native half of the ferry package).";
  ferry::python::bind_errors(m);
  ferry::python::bind_future(m);
  ferry::python::bind_memory(m);
  ferry::python::bind_engine(m);
  ferry::python::bind_cluster(m);
  ferry::python::bind_collectives(m);
  ferry::python::bind_kv(m);
  ferry::python::bind_weights(m);
  ferry::python::bind_pipeline(m);
  ferry::python::bind_moe(m);
}
