"""What the Authorize.Net sandbox knows by heart: credentials, test triggers (ZIP codes, card
numbers, amounts), response reasons and the XSD sequences it enforces on requests.
"""

import re

SANDBOX_CREDENTIALS: dict[str, str] = {
    "api_login_id": "avnzSandbox",
    "transaction_key": "SandboxKey000001",
}

API_PATH = "/xml/v1/request.api"
BOM = "\ufeff"
NAMESPACE = "AnetApi/xml/v1/schema/AnetApiSchema.xsd"

SALE, AUTH_ONLY, REFUND = "authCaptureTransaction", "authOnlyTransaction", "refundTransaction"
CURRENCIES = frozenset({"USD", "CAD", "EUR", "GBP", "AUD", "NZD"})

DECLINE_ZIP = "46282"
AVS_BY_ZIP = {
    "46201": "A",
    "46203": "E",
    "46204": "G",
    "46205": "N",
    "46206": "P",
    "46207": "R",
    "46208": "S",
    "46209": "U",
    "46211": "W",
    "46214": "X",
    "46217": "Z",
}
CVV_BY_CODE = {"900": "M", "901": "N", "902": "S", "903": "U", "904": "P"}
PARTIAL_AUTH_PERCENT = {"46225": 20, "46226": 40, "46227": 60, "46228": 80}
ERROR_GENERATION_CARD = "4222222222222"
ECHECK_LIMIT = 10_000  # cents, per transaction
ECHECK_MONTHLY_LIMIT = 500_000
DUPLICATE_WINDOW_SECONDS = 120

# Reason code -> (responseCode, text), as responseCodes.json words them.
REASONS: dict[str, tuple[str, str]] = {
    "1": ("1", "This transaction has been approved."),
    "2": ("2", "This transaction has been declined."),
    "3": ("2", "This transaction has been declined."),
    "4": ("2", "This transaction has been declined."),
    "5": ("3", "A valid amount is required."),
    "6": ("3", "The credit card number is invalid."),
    "7": ("3", "Credit card expiration date is invalid."),
    "8": ("3", "The credit card has expired."),
    "9": ("3", "The ABA code is invalid"),
    "10": ("3", "The account number is invalid"),
    "11": ("3", "A duplicate transaction has been submitted."),
    "16": ("3", "The transaction cannot be found."),
    "17": ("3", "The merchant does not accept this type of credit card."),
    "19": ("3", "An error occurred during processing.  Please try again."),
    "27": ("2", "The transaction has been declined because of an AVS mismatch."),
    "28": ("3", "The merchant does not accept this type of credit card."),
    "33": ("3", "Credit card number cannot be left blank."),
    "35": ("3", "An error occurred during processing. Call Merchant Service Provider."),
    "37": ("3", "The credit card number is invalid."),
    "39": (
        "3",
        "The supplied currency code is either invalid, not supported, not allowed for "
        "this merchant or doesnt have an exchange rate.",
    ),
    "41": ("2", "This transaction has been declined."),
    "44": ("2", "This transaction has been declined."),
    "45": ("2", "This transaction has been declined."),
    "47": (
        "3",
        "The amount requested for settlement cannot be greater than the original amount "
        "authorized.",
    ),
    "54": ("3", "The referenced transaction does not meet the criteria for issuing a credit."),
    "55": (
        "3",
        "The sum of credits against the referenced transaction would exceed original debit amount.",
    ),
    "57": ("3", "An error occurred in processing. Please try again in 5 minutes."),
    "65": ("2", "This transaction has been declined."),
    "78": ("3", "The Card Code (CVV2/CVC2/CID) is invalid."),
    "127": (
        "2",
        "The transaction resulted in an AVS mismatch. The address provided does not "
        "match billing address of cardholder.",
    ),
    "250": ("2", "This transaction has been declined."),
    "251": ("2", "This transaction has been declined."),
    "295": (
        "4",
        "The amount of this request was only partially approved on the given prepaid "
        "card. An additional payment is required to fulfill the balance of this "
        "transaction.",
    ),
    "310": ("1", "This transaction has already been voided."),
    "311": ("1", "This transaction has already been captured."),
}

# XSD sequences of the elements whose order we check (the gateway validates them all).
SEQUENCES: dict[str, tuple[str, ...]] = {
    "createTransactionRequest": (
        "merchantAuthentication",
        "clientId",
        "refId",
        "transactionRequest",
    ),
    "authenticateTestRequest": ("merchantAuthentication", "clientId", "refId"),
    "getTransactionDetailsRequest": ("merchantAuthentication", "clientId", "refId", "transId"),
    "getUnsettledTransactionListRequest": (
        "merchantAuthentication",
        "clientId",
        "refId",
        "status",
        "sorting",
        "paging",
    ),
    "merchantAuthentication": (
        "name",
        "transactionKey",
        "sessionToken",
        "password",
        "impersonationAuthentication",
        "fingerPrint",
        "clientKey",
        "accessToken",
        "mobileDeviceId",
    ),
    "transactionRequest": (
        "transactionType",
        "amount",
        "currencyCode",
        "payment",
        "profile",
        "solution",
        "callId",
        "terminalNumber",
        "authCode",
        "refTransId",
        "splitTenderId",
        "order",
        "lineItems",
        "tax",
        "duty",
        "shipping",
        "taxExempt",
        "poNumber",
        "customer",
        "billTo",
        "shipTo",
        "customerIP",
        "cardholderAuthentication",
        "retail",
        "employeeId",
        "transactionSettings",
        "userFields",
        "surcharge",
        "merchantDescriptor",
        "subMerchant",
        "tip",
        "processingOptions",
        "subsequentAuthInformation",
        "otherTax",
        "shipFrom",
        "authorizationIndicatorType",
    ),
    "payment": (
        "creditCard",
        "bankAccount",
        "trackData",
        "encryptedTrackData",
        "payPal",
        "opaqueData",
        "emv",
        "dataSource",
    ),
    "creditCard": (
        "cardNumber",
        "expirationDate",
        "cardCode",
        "isPaymentToken",
        "cryptogram",
        "tokenRequestorName",
        "tokenRequestorId",
        "tokenRequestorEci",
    ),
    "bankAccount": (
        "accountType",
        "routingNumber",
        "accountNumber",
        "nameOnAccount",
        "echeckType",
        "bankName",
        "checkNumber",
    ),
    "opaqueData": ("dataDescriptor", "dataValue", "dataKey", "expirationTimeStamp"),
    "order": (
        "invoiceNumber",
        "description",
        "discountAmount",
        "taxIsAfterDiscount",
        "totalTaxTypeCode",
        "purchaserVATRegistrationNumber",
        "merchantVATRegistrationNumber",
        "vatInvoiceReferenceNumber",
        "purchaserCode",
        "summaryCommodityCode",
        "purchaseOrderDateUTC",
        "supplierOrderReference",
        "authorizedContactName",
        "cardAcceptorRefNumber",
        "amexDataTAA1",
        "amexDataTAA2",
        "amexDataTAA3",
        "amexDataTAA4",
    ),
    "customer": ("type", "id", "email"),
    "billTo": (
        "firstName",
        "lastName",
        "company",
        "address",
        "city",
        "state",
        "zip",
        "country",
        "phoneNumber",
        "faxNumber",
    ),
    "transactionSettings": ("setting",),
    "setting": ("settingName", "settingValue"),
    "userFields": ("userField",),
    "userField": ("name", "value"),
    "sorting": ("orderBy", "orderDescending"),
    "paging": ("limit", "offset"),
}
MAX_LENGTHS = {"invoiceNumber": 20, "refId": 20, "description": 255, "id": 20, "email": 255}

# Card brands by IIN prefix range (inclusive), as the gateway names them in accountType.
BRANDS: tuple[tuple[str, str, str], ...] = (
    ("4", "4", "Visa"),
    ("51", "55", "MasterCard"),
    ("2221", "2720", "MasterCard"),
    ("34", "34", "AmericanExpress"),
    ("37", "37", "AmericanExpress"),
    ("6011", "6011", "Discover"),
    ("644", "649", "Discover"),
    ("65", "65", "Discover"),
    ("3528", "3589", "JCB"),
    ("3088", "3088", "JCB"),
    ("300", "305", "DinersClub"),
    ("36", "36", "DinersClub"),
    ("38", "39", "DinersClub"),
)

EXPIRY_FORMATS = (
    re.compile(r"^(?P<year>\d{4})-(?P<month>\d{2})$"),
    re.compile(r"^(?P<month>\d{2})[/-]?(?P<year>\d{2}|\d{4})$"),
)

SETTLED_KEY = "settled"  # key in SandboxTxn.extra
