"""Access control: who is calling and what they may do.

``tickets`` signs and checks login tickets, CSRF tokens and API-token headers;
``usercfg`` models ``user.cfg`` (users, tokens, groups, roles, ACLs, pools) and the
private ``token.cfg``/``shadow.cfg`` files; ``passwords`` hashes and checks passwords;
``roles`` is the privilege catalogue and the built-in roles; ``perms`` turns a parsed
``user.cfg`` into effective privileges and evaluates the endpoint permission
declarations from the API schema.  Everything here is pure and synchronous: reading
and writing the files is the config store's job.
"""
