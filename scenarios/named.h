// Named<E>: the spelling of an enumerator in scenario files. Each spec header keeps one
// table per enum; the parser reads names through it and summaries print through it, so
// a name is written once.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace ferry::scenarios {

template <typename E>
struct Named {
  std::string_view name;
  E value;
};

template <typename E, size_t N>
std::string_view name_of(const Named<E> (&table)[N], E value) {
  for (const Named<E>& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

template <typename E, size_t N>
std::vector<std::string_view> names_of(const Named<E> (&table)[N]) {
  std::vector<std::string_view> names;
  for (const Named<E>& entry : table) names.push_back(entry.name);
  return names;
}

}  // namespace ferry::scenarios
