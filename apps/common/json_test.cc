// The JSON helpers: one line, keys in the order written, integers kept,
// and the reader on what the commands print and on malformed text.
#include "apps/common/json.hh"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>

namespace twstack::app {
namespace {

TEST(Json, OneLineInTheOrderWritten) {
  Json j;
  j["t"] = 10;
  j["ok"] = std::uint64_t{100};
  j["first_failure_s"] = nullptr;
  j["cps"] = 99.5;
  j["errors"] = Json::object();
  j["errors"]["EADDRNOTAVAIL"] = 2;
  j["name"] = "a \"quoted\"\nline";
  std::ostringstream out;
  print_json_line(out, j);
  EXPECT_EQ(out.str(),
            "{\"t\":10,\"ok\":100,\"first_failure_s\":null,\"cps\":99.5,\"errors\":{\"EADDRNOTAVAIL\":2},"
            "\"name\":\"a \\\"quoted\\\"\\nline\"}\n");
}

TEST(Json, IntegersStayIntegersAndOddBytesAreReplaced) {
  Json j;
  j["max"] = std::numeric_limits<std::uint64_t>::max();
  j["neg"] = std::int64_t{-5};
  j["bad"] = std::string("x\xff", 2);
  std::ostringstream out;
  print_json_line(out, j);
  EXPECT_EQ(out.str(), "{\"max\":18446744073709551615,\"neg\":-5,\"bad\":\"x\xef\xbf\xbd\"}\n");
}

TEST(Json, CountersByKernelName) {
  Counters c;
  c.inc(Counter::TcpActiveOpens, 3);
  const Json j = counters_json(c);
  EXPECT_EQ(j.size(), 1u);
  EXPECT_EQ(j["TcpActiveOpens"], 3);
  EXPECT_TRUE(j["TcpActiveOpens"].is_number_unsigned());
  EXPECT_EQ(counters_json(c, true).size(), kCounterCount);
}

TEST(Json, ReadsWhatTheCommandsPrint) {
  std::string e;
  auto v = parse_json(R"({"t":1.5,"ok":3,"errors":{"EADDRNOTAVAIL":2},"a":[1,"x\"y",true,null],"s":"\u0041"})", &e);
  ASSERT_TRUE(v) << e;
  EXPECT_DOUBLE_EQ((*v)["t"].get<double>(), 1.5);
  EXPECT_EQ((*v)["errors"]["EADDRNOTAVAIL"], 2);
  EXPECT_EQ((*v)["a"].size(), 4u);
  EXPECT_EQ((*v)["a"][1], "x\"y");
  EXPECT_TRUE((*v)["a"][2].get<bool>());
  EXPECT_TRUE((*v)["a"][3].is_null());
  EXPECT_EQ((*v)["s"], "A");
  for (std::string_view bad : {"{", "{\"a\":}", "[1,]", "{\"a\":1} x", "\"open", "tru"}) {
    EXPECT_FALSE(parse_json(bad, &e)) << bad;
    EXPECT_TRUE(e.starts_with("JSON: ")) << e;
  }
}

// Found by json_fuzz: a number beyond a double made nlohmann throw
// out_of_range, which escaped parse_json and ended the process.
TEST(Json, NumberOutOfRangeIsAnErrorNotAnException) {
  std::string err;
  EXPECT_FALSE(parse_json("1e999", &err).has_value());
  EXPECT_NE(err.find("JSON"), std::string::npos);
  EXPECT_FALSE(parse_json("{\"a\": -1e400}", &err).has_value());
}

}  // namespace
}  // namespace twstack::app
