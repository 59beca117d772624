// The lab tests' one-scenario parser.
#pragma once

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "apps/twstack/lab/lab_scenario.hh"

namespace twstack::app {

// The first scenario of `text` (origin "t.lab"), failing the test if it does not parse.
inline LabScenario one(std::string_view text) {
  std::vector<LabScenario> v;
  auto e = parse_lab_scenarios(text, "t.lab", &v);
  EXPECT_FALSE(e.has_value()) << *e;
  return v.empty() ? LabScenario{} : v.front();
}

}  // namespace twstack::app
