// Reading DPDK telemetry replies (what dpdk-telemetry.py shows), without a
// running process.
#include "apps/twstack/stat/telemetry_client.hh"

#include <gtest/gtest.h>

#include <string>

namespace twstack::app {
namespace {

TEST(TelemetryReply, TheDictionaryInOrder) {
  std::string e;
  auto d = parse_telemetry_reply(
      R"j({"/twstack/info": {"role": "serve", "pid": 4242, "port": "memif:server:/tmp/a \"b\" (net_memif)", "queues": 1}})j",
      &e);
  ASSERT_TRUE(d) << e;
  ASSERT_EQ(d->size(), 4u);
  EXPECT_EQ(d->begin().key(), "role");
  EXPECT_EQ((*d)["role"], "serve");
  EXPECT_EQ((*d)["pid"], 4242);
  EXPECT_TRUE((*d)["pid"].is_number_unsigned());
  EXPECT_EQ((*d)["port"], "memif:server:/tmp/a \"b\" (net_memif)");
  auto empty = parse_telemetry_reply(R"({"/twstack/app": {}})", &e);
  ASSERT_TRUE(empty) << e;
  EXPECT_TRUE(empty->empty());
}

TEST(TelemetryReply, WhatIsNotADictionarySaysWhy) {
  std::string e;
  EXPECT_FALSE(parse_telemetry_reply(R"({"/twstack/gauges": null})", &e));
  EXPECT_NE(e.find("no such command"), std::string::npos) << e;
  EXPECT_FALSE(parse_telemetry_reply(R"({"/twstack/gauges": [1, 2]})", &e));
  EXPECT_NE(e.find("not an object"), std::string::npos) << e;
  EXPECT_FALSE(parse_telemetry_reply(R"({"/twstack/gauges": {"a": 1)", &e));
  EXPECT_NE(e.find("unexpected telemetry reply"), std::string::npos) << e;
  EXPECT_FALSE(parse_telemetry_reply(R"([])", &e));
  EXPECT_FALSE(parse_telemetry_reply(R"({"/a": {"x": {"nested": {"deeper": 1}}}})", &e));
  EXPECT_FALSE(parse_telemetry_reply(R"({"/a": {"x": [1]}})", &e));
}

// /twstack/ages and /twstack/queues: one level of dictionaries.
TEST(TelemetryReply, OneLevelOfDictionaries) {
  std::string e;
  auto d = parse_telemetry_reply(R"({"/twstack/ages": {"ESTABLISHED": {"lt_1s": 3, "ge_1h": 2298}}})", &e);
  ASSERT_TRUE(d) << e;
  EXPECT_EQ((*d)["ESTABLISHED"]["ge_1h"], 2298);
}

}  // namespace
}  // namespace twstack::app
