// The JSON reader on what the commands print, and on malformed text.
#include "apps/common/json_read.hh"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace twstack::app {
namespace {

TEST(JsonRead, WhatTheCommandsPrint) {
  std::string e;
  auto v = parse_json(R"({"t":1.5,"ok":3,"errors":{"EADDRNOTAVAIL":2},"a":[1,"x\"y",true,null],"s":"\u0041"})", &e);
  ASSERT_TRUE(v) << e;
  EXPECT_DOUBLE_EQ(v->num("t"), 1.5);
  EXPECT_EQ(v->get("errors")->num("EADDRNOTAVAIL"), 2);
  EXPECT_EQ(v->get("a")->items.size(), 4u);
  EXPECT_EQ(v->get("a")->items[1].text, "x\"y");
  EXPECT_TRUE(v->get("a")->items[2].boolean);
  EXPECT_TRUE(v->get("a")->items[3].is_null());
  EXPECT_EQ(v->str("s"), "A");
  for (std::string_view bad : {"{", "{\"a\":}", "[1,]", "{\"a\":1} x", "\"open", "tru"}) {
    EXPECT_FALSE(parse_json(bad, &e)) << bad;
  }
}

}  // namespace
}  // namespace twstack::app
