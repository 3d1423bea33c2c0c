"""Safe XML, WSDL/XSD -> JSON Schema, XML -> JSON, LLM-proposed mappings, SOAP bridge."""
