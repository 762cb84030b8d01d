"""mitmproxy contender for bench/intercept.sh: sets X-Api-Key on every
request it intercepts (replacing whatever the client sent).

    mitmdump -s bench/mitm_inject.py --set bench_api_key=SECRET ...
"""
from mitmproxy import ctx


class InjectApiKey:
    def load(self, loader):
        loader.add_option("bench_api_key", str, "", "X-Api-Key value set on every request")

    def request(self, flow):
        flow.request.headers["X-Api-Key"] = ctx.options.bench_api_key


addons = [InjectApiKey()]
