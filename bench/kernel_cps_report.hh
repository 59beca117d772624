// kernel_cps's report: the figures of a run, as text or as one JSON object.
#pragma once

#include "kernel_cps.hh"
#include "kernel_cps_client.hh"
#include "kernel_cps_server.hh"

namespace kernel_cps {

void report_text(const Options& o, const ClientResult& r, const Server& s);
void report_json(const Options& o, const ClientResult& r, const Server& s);

}  // namespace kernel_cps
