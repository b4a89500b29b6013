"""The commerce domain's face: customers, products and orders of a company, always inside the
caller's scope.

A row outside the caller's scope, or soft-deleted, is reported as missing (404), never as
forbidden. Figures the server owns are computed in `customers` and `orders` and never taken
from input: an order's totals, a customer's lifetime value and chargeback figures (written by
payments through `record_purchase`, `record_chargeback` and `mark_order`).
"""

from avnz.commerce.customers import (
    create_customer,
    customer_of_company,
    delete_customer,
    get_customer,
    list_customers,
    record_chargeback,
    record_purchase,
    update_customer,
)
from avnz.commerce.orders import (
    create_order,
    delete_order,
    get_order,
    list_orders,
    mark_order,
    order_of_company,
    update_order,
)
from avnz.commerce.products import (
    create_product,
    delete_product,
    get_product,
    list_products,
    update_product,
)

__all__ = [
    "create_customer",
    "create_order",
    "create_product",
    "customer_of_company",
    "delete_customer",
    "delete_order",
    "delete_product",
    "get_customer",
    "get_order",
    "get_product",
    "list_customers",
    "list_orders",
    "list_products",
    "mark_order",
    "order_of_company",
    "record_chargeback",
    "record_purchase",
    "update_customer",
    "update_order",
    "update_product",
]
