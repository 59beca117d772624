#include "kernel_cps_report.hh"

#include <cmath>
#include <cstdio>
#include <string>

namespace kernel_cps {
using namespace kernel_churn;
namespace {

using ull = unsigned long long;

double per_second(std::uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0.0;
}

const char* closer_name(Closer c) { return c == Closer::kServer ? "server" : "client"; }

void print_errors(const char* label, const ErrorCounts& errors, bool json) {
  std::printf(json ? "\"%s\":{" : "%s:", label);
  const auto named = errors.named();
  if (!json && named.empty()) std::printf(" none");
  for (std::size_t i = 0; i < named.size(); ++i) {
    const auto& [name, n] = named[i];
    std::printf(json ? "%s\"%s\":%llu" : "%s %s=%llu", json && i > 0 ? "," : "", name.c_str(), static_cast<ull>(n));
  }
  std::printf(json ? "}" : "\n");
}

}  // namespace

void report_text(const Options& o, const ClientResult& r, const Server& s) {
  const std::string rate = o.rate > 0 ? std::to_string(std::llround(o.rate)) + "/s" : "flat-out";
  std::printf("kernel_cps listen=%s closer=%s inflight=%d body=%zu B rate=%s cpus=%d/%d\n", o.endpoints.front().text.c_str(),
              closer_name(o.closer), o.inflight, o.body_bytes, rate.c_str(), o.server_cpu, o.client_cpu);
  std::printf("cps %.0f  completed %llu  failed %llu  missed %llu  in %.2f s after %.1f s warm-up\n",
              per_second(r.completed, r.measured_s), static_cast<ull>(r.completed), static_cast<ull>(r.failed),
              static_cast<ull>(r.missed), r.measured_s, o.warmup_s);
  print_errors("client errors", r.errors, false);
  print_errors("server errors (whole run, teardown included)", s.errors(), false);
}

void report_json(const Options& o, const ClientResult& r, const Server& s) {
  std::printf("{\"cps\":%.1f,\"completed\":%llu,\"failed\":%llu,", per_second(r.completed, r.measured_s),
              static_cast<ull>(r.completed), static_cast<ull>(r.failed));
  print_errors("errors", r.errors, true);
  std::printf(",");
  print_errors("server_errors", s.errors(), true);
  std::printf(",\"server_completed\":%llu,\"missed\":%llu,\"per_second\":[", static_cast<ull>(s.completed()),
              static_cast<ull>(r.missed));
  for (std::size_t i = 0; i < r.seconds.size(); ++i) {
    const Second& x = r.seconds[i];
    std::printf("%s{\"t\":%.3f,\"cps\":%.1f,\"completed\":%llu,\"failed\":%llu}", i == 0 ? "" : ",", x.t_s,
                per_second(x.completed, x.elapsed_s), static_cast<ull>(x.completed), static_cast<ull>(x.failed));
  }
  std::printf("],\"duration_s\":%.3f,\"warmup_s\":%.3f,\"inflight\":%d,\"closer\":\"%s\",\"body_bytes\":%zu,"
              "\"rate\":%.1f,\"listen\":\"%s\",\"server_cpu\":%d,\"client_cpu\":%d}\n",
              r.measured_s, o.warmup_s, o.inflight, closer_name(o.closer), o.body_bytes, o.rate,
              o.endpoints.front().text.c_str(), o.server_cpu, o.client_cpu);
}

}  // namespace kernel_cps
