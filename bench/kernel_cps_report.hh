// kernel_cps's report: the figures of a run, as text or as one JSON object.
#pragma once

#include "apps/kernel/churn_client.hh"
#include "apps/kernel/churn_server.hh"

namespace kernel_cps {
using kernel_churn::ClientResult;
using kernel_churn::Options;
using kernel_churn::Server;

void report_text(const Options& o, const ClientResult& r, const Server& s);
void report_json(const Options& o, const ClientResult& r, const Server& s);

}  // namespace kernel_cps
