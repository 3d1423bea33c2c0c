"""What a WSDL says about its operations, independent of WSDL 1.1 or 2.0 syntax."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Style = Literal["document", "rpc"]
Use = Literal["literal", "encoded"]
Direction = Literal["input", "output"]
SoapVersion = Literal["1.1", "1.2"]


@dataclass(frozen=True)
class MessagePart:
    """A message part: an element (document style) or a type (rpc style, or sloppy document)."""

    name: str
    element: str | None = None  # Clark name of a global element
    type: str | None = None  # Clark name of a type


@dataclass(frozen=True)
class MessageBinding:
    """One direction of one operation as it travels in a SOAP body (and headers)."""

    message: str | None  # Clark name of the wsdl:message (None in WSDL 2.0)
    parts: tuple[MessagePart, ...]
    headers: tuple[MessagePart, ...] = ()
    use: Use = "literal"
    namespace: str | None = None  # the rpc wrapper's namespace (soap:body/@namespace)
    mime: bool = False  # bound with mime:multipartRelated (attachments expected)


@dataclass(frozen=True)
class FaultBinding:
    name: str
    parts: tuple[MessagePart, ...]


@dataclass(frozen=True)
class Operation:
    name: str
    binding: str  # local name of the binding (or the port type when there is no binding)
    style: Style
    soap_version: SoapVersion | None  # None: HTTP binding or no binding at all
    input: MessageBinding | None
    output: MessageBinding | None
    faults: tuple[FaultBinding, ...] = ()
    soap_action: str | None = None
    documentation: str = ""

    @property
    def key(self) -> str:
        """Unique within a WSDL: ``binding/operation``."""
        return f"{self.binding}/{self.name}"

    def message(self, direction: Direction) -> MessageBinding | None:
        return self.input if direction == "input" else self.output


@dataclass(frozen=True)
class Port:
    """A WSDL 1.1 port: the binding it uses (local name; None when none could be found),
    its address and the SOAP version of its address element (None: not a SOAP address)."""

    name: str
    binding: str | None
    address: str
    soap_version: SoapVersion | None


@dataclass(frozen=True)
class WsdlDescription:
    location: str
    version: Literal["1.1", "2.0"]
    target_namespace: str
    operations: tuple[Operation, ...]
    endpoints: tuple[tuple[str, str], ...] = ()  # (port or endpoint name, address)
    # WSDL 1.1 ports, each bound (see reader.read_ports), and WSDL 2.0 endpoints; in
    # document order
    ports: tuple[Port, ...] = ()
