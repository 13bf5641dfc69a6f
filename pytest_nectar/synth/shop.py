"""The built-in ``shop`` model: a small microservice web shop.

Shaped after the OpenTelemetry Demo's published architecture (an Envoy front proxy, a web
frontend, gRPC services in several languages, Kafka consumers), with names, routes,
latencies and failure rates written for Nectar.  Each failure mode a sampling policy must
not lose occurs in it: HTTP 5xx under the stable and the old status attribute and as
Envoy's string ``"503"``, gRPC server faults (UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED,
UNKNOWN) beside client codes (NOT_FOUND, INVALID_ARGUMENT), span status ERROR alone,
exception events (escaped, and handled), plus span events, links, long tails, traces
without roots, orphans, clock skew and head-sampled traces with a ``SampleRate``.
"""

from __future__ import annotations

from typing import Final

from pytest_nectar.synth.model import (
    Call,
    Failure,
    FailureKind,
    Model,
    Operation,
    Protocol,
    Quirks,
    Service,
    Value,
)

__all__ = ["SHOP_RATE", "shop_model"]

SHOP_RATE: Final = 20.0  # traces per second

_SERVICES: Final = (
    Service("frontend-proxy", "cpp", "1.32.1", "envoy", 2),
    Service("frontend", "nodejs", "2.1.0", "@opentelemetry/instrumentation-http", 3),
    Service("cart", "dotnet", "2.1.0", "OpenTelemetry.Instrumentation.AspNetCore", 2),
    Service("checkout", "go", "2.1.0", "go.opentelemetry.io/contrib/instrumentation/otelgrpc", 2),
    Service("payment", "nodejs", "2.1.0", "@opentelemetry/instrumentation-grpc", 2),
    Service("product-catalog", "go", "2.1.0", "go.opentelemetry.io/contrib/otelgrpc", 2),
    Service("recommendation", "python", "2.1.0", "opentelemetry.instrumentation.grpc", 1),
    Service("shipping", "rust", "2.1.0", "opentelemetry-http", 1),
    Service("quote", "php", "2.1.0", "io.opentelemetry.contrib.php.slim", 1),
    Service("currency", "cpp", "2.1.0", "opentelemetry-cpp-grpc", 1),
    Service("email", "ruby", "2.1.0", "OpenTelemetry::Instrumentation::Sinatra", 1),
    Service("ad", "java", "2.1.0", "io.opentelemetry.grpc-1.6", 1),
    Service("fraud-detection", "kotlin", "2.1.0", "io.opentelemetry.kafka-clients-0.11", 1),
    Service("accounting", "dotnet", "2.1.0", "OpenTelemetry.Instrumentation.Kafka", 1),
    Service("valkey", "", "8.0", "", 1),
)


def _http(
    service: str,
    method: str,
    route: str,
    latency: float,
    *,
    key: str = "",
    old: bool = False,
    string: bool = False,
    status: bool = True,
    **more: object,
) -> Operation:
    return Operation(
        key=f"{service}/{key or method + ' ' + route}",
        service=service,
        name=f"{method} {route}",
        protocol=Protocol.HTTP,
        kind=2,
        latency_ms=latency,
        route=route,
        method=method,
        http_status_key="http.status_code" if old else "http.response.status_code",
        status_as_string=string,
        sets_status=status,
        **more,  # type: ignore[arg-type]
    )


def _grpc(service: str, rpc: str, latency: float, **more: object) -> Operation:
    return Operation(
        key=f"{service}/{rpc.rsplit('/', 1)[-1]}",
        service=service,
        name=rpc,
        protocol=Protocol.GRPC,
        kind=2,
        latency_ms=latency,
        method=rpc,
        **more,  # type: ignore[arg-type]
    )


def _fail(kind: FailureKind, p: float, code: int = 0, **more: object) -> Failure:
    return Failure(kind, p, code, **more)  # type: ignore[arg-type]


_H, _G, _S, _E = FailureKind.HTTP, FailureKind.GRPC, FailureKind.STATUS, FailureKind.EXCEPTION
_CURRENCIES: Final[tuple[tuple[Value, float], ...]] = (
    ("USD", 0.55),
    ("EUR", 0.25),
    ("CAD", 0.1),
    ("JPY", 0.1),
)

_OPERATIONS: Final = (
    # -- the edge: Envoy reports the upstream status as a *string* (a status the corpus
    #    sees as "503"), and sets no span status.
    _http(
        "frontend-proxy",
        "GET",
        "/",
        0.4,
        key="ingress GET /",
        old=True,
        string=True,
        status=False,
        sigma=0.3,
        failures=(_fail(_H, 0.01, 503, message="upstream connect error", propagates=False),),
        calls=(Call("frontend/GET /"),),
    ),
    _http(
        "frontend-proxy",
        "GET",
        "/api/products/{id}",
        0.4,
        key="ingress GET /api/products",
        old=True,
        string=True,
        status=False,
        sigma=0.3,
        failures=(_fail(_H, 0.008, 504, message="upstream request timeout"),),
        calls=(Call("frontend/GET /api/products/{id}"),),
    ),
    _http(
        "frontend-proxy",
        "POST",
        "/api/cart",
        0.4,
        key="ingress POST /api/cart",
        old=True,
        string=True,
        status=False,
        sigma=0.3,
        calls=(Call("frontend/POST /api/cart"),),
    ),
    _http(
        "frontend-proxy",
        "POST",
        "/api/checkout",
        0.4,
        key="ingress POST /api/checkout",
        old=True,
        string=True,
        status=False,
        sigma=0.3,
        calls=(Call("frontend/POST /api/checkout"),),
    ),
    _http(
        "frontend-proxy",
        "GET",
        "/api/recommendations",
        0.4,
        key="ingress GET /api/recs",
        old=True,
        string=True,
        status=False,
        sigma=0.3,
        calls=(Call("frontend/GET /api/recommendations"),),
    ),
    _http(
        "frontend-proxy",
        "GET",
        "/healthz",
        0.1,
        key="ingress GET /healthz",
        old=True,
        string=True,
        status=False,
        sigma=0.2,
    ),
    # -- the web frontend: the stable attribute http.response.status_code
    _http(
        "frontend",
        "GET",
        "/",
        18.0,
        sigma=0.6,
        tail=0.01,
        calls=(
            Call("product-catalog/ListProducts"),
            Call("currency/GetSupportedCurrencies"),
            Call("ad/GetAds", 0.8),
            Call("cart/GetCart"),
        ),
        choices=(("app.currency", _CURRENCIES),),
    ),
    _http(
        "frontend",
        "GET",
        "/api/products/{id}",
        6.0,
        sigma=0.5,
        tail=0.01,
        failures=(_fail(_H, 0.03, 404, message="product not found", propagates=False),),
        calls=(
            Call("product-catalog/GetProduct"),
            Call("currency/Convert"),
            Call("recommendation/ListRecommendations", 0.7),
        ),
        choices=(("app.currency", _CURRENCIES),),
    ),
    _http(
        "frontend",
        "POST",
        "/api/cart",
        4.0,
        sigma=0.5,
        failures=(_fail(_H, 0.02, 400, message="invalid quantity", propagates=False),),
        calls=(Call("product-catalog/GetProduct"), Call("cart/AddItem")),
    ),
    _http(
        "frontend",
        "POST",
        "/api/checkout",
        9.0,
        sigma=0.6,
        tail=0.02,
        calls=(Call("checkout/PlaceOrder"),),
        choices=(("app.currency", _CURRENCIES),),
    ),
    _http(
        "frontend",
        "GET",
        "/api/recommendations",
        3.0,
        sigma=0.5,
        calls=(Call("recommendation/ListRecommendations"),),
    ),
    # -- gRPC services
    _grpc(
        "cart",
        "oteldemo.CartService/GetCart",
        1.5,
        sigma=0.6,
        tail=0.01,
        failures=(_fail(_G, 0.01, 4, message="cart storage read timed out"),),
        calls=(Call("valkey/HGET"),),
    ),
    _grpc(
        "cart",
        "oteldemo.CartService/AddItem",
        2.0,
        sigma=0.6,
        failures=(
            _fail(_G, 0.03, 14, message="Can't access cart storage"),
            _fail(
                _E,
                0.015,
                exception_type="System.TimeoutException",
                message="Timeout performing HSET",
                escaped=True,
            ),
        ),
        calls=(Call("valkey/HSET"),),
    ),
    _grpc("cart", "oteldemo.CartService/EmptyCart", 1.2, sigma=0.5, calls=(Call("valkey/DEL"),)),
    Operation(
        "valkey/HGET",
        "valkey",
        "HGET",
        Protocol.DB,
        3,
        0.3,
        sigma=0.4,
        tail=0.005,
        attributes=(("db.system", "redis"), ("db.operation.name", "HGET")),
    ),
    Operation(
        "valkey/HSET",
        "valkey",
        "HSET",
        Protocol.DB,
        3,
        0.4,
        sigma=0.4,
        attributes=(("db.system", "redis"), ("db.operation.name", "HSET")),
    ),
    Operation(
        "valkey/DEL",
        "valkey",
        "DEL",
        Protocol.DB,
        3,
        0.3,
        sigma=0.4,
        attributes=(("db.system", "redis"), ("db.operation.name", "DEL")),
    ),
    _grpc(
        "checkout",
        "oteldemo.CheckoutService/PlaceOrder",
        6.0,
        sigma=0.5,
        tail=0.03,
        calls=(
            Call("cart/GetCart"),
            Call("product-catalog/GetProduct", repeat=(1, 4), parallel=True),  # one goroutine each
            Call("currency/Convert", repeat=(1, 4)),
            Call("shipping/POST /get-quote"),
            Call("payment/Charge"),
            Call("shipping/POST /ship-order"),
            Call("cart/EmptyCart"),
            Call("email/POST /send_order_confirmation", 0.95),
            Call("checkout/orders publish"),
        ),
        events=(("prepared", 1.0), ("charged", 0.98), ("shipped", 0.97)),
    ),
    Operation(
        "checkout/orders publish",
        "checkout",
        "orders publish",
        Protocol.MESSAGING,
        4,
        0.8,
        sigma=0.4,
        attributes=(
            ("messaging.system", "kafka"),
            ("messaging.destination.name", "orders"),
            ("messaging.operation.type", "publish"),
        ),
        calls=(
            Call("accounting/orders process", link=True),
            Call("fraud-detection/orders process", link=True),
        ),
    ),
    Operation(
        "accounting/orders process",
        "accounting",
        "orders process",
        Protocol.MESSAGING,
        5,
        3.0,
        sigma=0.7,
        attributes=(
            ("messaging.system", "kafka"),
            ("messaging.destination.name", "orders"),
            ("messaging.operation.type", "process"),
        ),
    ),
    Operation(
        "fraud-detection/orders process",
        "fraud-detection",
        "orders process",
        Protocol.MESSAGING,
        5,
        5.0,
        sigma=0.8,
        tail=0.02,
        failures=(_fail(_S, 0.05, message="order record could not be deserialized"),),
        attributes=(
            ("messaging.system", "kafka"),
            ("messaging.destination.name", "orders"),
            ("messaging.operation.type", "process"),
        ),
    ),
    Operation(
        "payment/Charge",
        "payment",
        "oteldemo.PaymentService/Charge",
        Protocol.GRPC,
        2,
        25.0,
        sigma=0.5,
        tail=0.03,
        method="oteldemo.PaymentService/Charge",
        failures=(
            _fail(_G, 0.04, 14, message="payment gateway unavailable"),
            _fail(_G, 0.03, 13, message="Invalid token: loyalty level unsupported"),
            _fail(_G, 0.02, 4, message="deadline exceeded calling the card network"),
            _fail(
                _E,
                0.03,
                exception_type="CardValidationError",
                message="Credit card info is invalid",
                escaped=False,
                propagates=False,
            ),
        ),
        choices=(("app.payment.card_type", (("visa", 0.6), ("mastercard", 0.4))),),
    ),
    Operation(
        "product-catalog/ListProducts",
        "product-catalog",
        "oteldemo.ProductCatalogService/ListProducts",
        Protocol.GRPC,
        2,
        1.2,
        sigma=0.4,
        method="oteldemo.ProductCatalogService/ListProducts",
    ),
    Operation(
        "product-catalog/GetProduct",
        "product-catalog",
        "oteldemo.ProductCatalogService/GetProduct",
        Protocol.GRPC,
        2,
        0.8,
        sigma=0.4,
        tail=0.005,
        method="oteldemo.ProductCatalogService/GetProduct",
        failures=(
            _fail(_G, 0.02, 5, message="product not found", propagates=False),
            _fail(_G, 0.01, 13, message="catalog index corrupted"),
        ),
    ),
    Operation(
        "currency/Convert",
        "currency",
        "Currency/Convert",
        Protocol.GRPC,
        2,
        0.3,
        sigma=0.3,
        method="oteldemo.CurrencyService/Convert",
        sets_status=False,
        failures=(
            _fail(_G, 0.01, 3, message="unsupported currency", propagates=False),
            _fail(_G, 0.01, 2, message="conversion table not loaded"),
            # callers fall back to the base currency: the failure stays on these spans
            _fail(_G, 0.02, 14, message="exchange rate provider unreachable", propagates=False),
        ),
    ),
    Operation(
        "currency/GetSupportedCurrencies",
        "currency",
        "Currency/GetSupportedCurrencies",
        Protocol.GRPC,
        2,
        0.2,
        sigma=0.3,
        method="oteldemo.CurrencyService/GetSupportedCurrencies",
        sets_status=False,
    ),
    Operation(
        "recommendation/ListRecommendations",
        "recommendation",
        "/oteldemo.RecommendationService/ListRecommendations",
        Protocol.GRPC,
        2,
        4.0,
        sigma=0.6,
        tail=0.02,
        method="oteldemo.RecommendationService/ListRecommendations",
        calls=(
            Call("recommendation/get_product_list"),
            Call("product-catalog/ListProducts"),
        ),
    ),
    Operation(
        "recommendation/get_product_list",
        "recommendation",
        "get_product_list",
        Protocol.INTERNAL,
        1,
        0.6,
        sigma=0.5,
        failures=(
            _fail(
                _E,
                0.05,
                exception_type="KeyError",
                message="cache miss",
                escaped=False,
                propagates=False,
            ),
        ),
        events=(("cache lookup", 0.5),),
    ),
    # -- HTTP services with older instrumentation: the old attribute http.status_code
    _http(
        "shipping",
        "POST",
        "/get-quote",
        2.0,
        old=True,
        sigma=0.5,
        calls=(Call("quote/POST /getquote"),),
    ),
    _http(
        "shipping",
        "POST",
        "/ship-order",
        1.5,
        old=True,
        sigma=0.5,
        failures=(_fail(_H, 0.02, 500, message="carrier API error"),),
    ),
    _http(
        "quote",
        "POST",
        "/getquote",
        1.0,
        old=True,
        sigma=0.4,
        failures=(
            _fail(
                _E,
                0.02,
                exception_type="DivisionByZeroError",
                message="Division by zero",
                escaped=True,
            ),
        ),
    ),
    _http(
        "email",
        "POST",
        "/send_order_confirmation",
        12.0,
        old=True,
        sigma=0.7,
        tail=0.03,
        failures=(_fail(_H, 0.04, 503, message="SMTP relay unavailable", propagates=False),),
        events=(("confirmation rendered", 1.0),),
    ),
    Operation(
        "ad/GetAds",
        "ad",
        "oteldemo.AdService/GetAds",
        Protocol.GRPC,
        2,
        2.0,
        sigma=0.6,
        tail=0.01,
        method="oteldemo.AdService/GetAds",
        calls=(Call("ad/getRandomAds"),),
    ),
    Operation(
        "ad/getRandomAds",
        "ad",
        "getRandomAds",
        Protocol.INTERNAL,
        1,
        0.5,
        sigma=0.5,
        failures=(
            _fail(_S, 0.04, message="ad cache unavailable, serving defaults", propagates=False),
        ),
    ),
)

_ENTRIES: Final = (
    ("frontend-proxy/ingress GET /", 0.22),
    ("frontend-proxy/ingress GET /api/products", 0.3),
    ("frontend-proxy/ingress POST /api/cart", 0.12),
    ("frontend-proxy/ingress POST /api/checkout", 0.06),
    ("frontend-proxy/ingress GET /api/recs", 0.2),
    ("frontend-proxy/ingress GET /healthz", 0.1),
)


def shop_model(rate: float = SHOP_RATE) -> Model:
    """The built-in shop model at ``rate`` traces per second."""
    return Model(
        name="shop",
        services=_SERVICES,
        operations=_OPERATIONS,
        entries=_ENTRIES,
        rate=rate,
        quirks=Quirks(
            rootless=0.01,
            orphans=0.005,
            skew=0.02,
            sample_rates=((4, 0.1),),  # /api/recommendations-like traffic head-sampled 1 in 4
        ),
    )
